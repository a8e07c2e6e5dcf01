package queue

import (
	"errors"
	"fmt"
)

// Logs returns log items newest first.
func (q *Queue) Logs(query LogQuery) ([]LogItem, error) {
	items, err := q.st.Logs(query)
	if err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	return items, nil
}

// Log returns one log item by message id.
func (q *Queue) Log(id string) (LogItem, bool, error) {
	item, found, err := q.st.Log(id)
	if err != nil {
		return LogItem{}, false, fmt.Errorf("read log %s: %w", id, err)
	}
	return item, found, nil
}

// Retry makes the message due now, whatever its status but "limited" (a limited event was never
// queued). A delivered or dead one is sent again with the same webhook-id; if that attempt fails
// it is dead again at once, as its schedule is spent. A job claimed ahead is given back first so
// the store's Retry need not wait for it; one being attempted is waited for (at most its timeout).
//
// It answers ErrDiskFull, and changes nothing, while the store cannot take writes.
func (q *Queue) Retry(id string) error {
	if !q.st.Writable() {
		return ErrDiskFull
	}
	release := q.sched.holdForRetry(id)
	cfg := q.config()
	reopened, err := q.st.Retry(id, cfg.Now(), policy(cfg))
	release()
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotRetryable) {
			return err
		}
		return fmt.Errorf("retry %s: %w", id, err)
	}
	if reopened {
		q.stats.depth.Add(1)
	}
	return nil
}
