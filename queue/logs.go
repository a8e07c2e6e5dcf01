package queue

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// LogItem is one message's delivery log, in the OTYS getLogs shape.
type LogItem struct {
	ID              string `json:"id"`
	ClientID        string `json:"klantid"`
	UserID          string `json:"userid"`
	WebhookURL      string `json:"webhook_url"`
	RequestData     string `json:"request_data"`  // the body posted
	ResponseData    string `json:"response_data"` // receiver's body, first 64 KiB
	ResponseCode    int    `json:"response_code"`
	Added           string `json:"added"`        // "2006-01-02 15:04:05" UTC
	IsProcessed     string `json:"is_processed"` // "1" once final (delivered, dead, gone, limited), else "0"
	Processed       string `json:"processed"`    // time of the final outcome, "" before
	Status          string `json:"status"`       // pending, delivered, retrying, dead, gone, limited
	Attempts        int    `json:"attempts"`
	NextAttempt     string `json:"next_attempt"` // "" when none
	SubscriptionUID string `json:"-"`
	Error           string `json:"-"` // last failure reason, for operators
}

// LogQuery selects log items.
type LogQuery struct {
	ClientID  string // only this client's items...
	AnyClient bool   // ...unless AnyClient (operators' admin API)
	Status    string // "" = any
	Limit     int    // default 10
	// Hide, when set, leaves out the items whose subscription uid it reports, before they count
	// toward Limit: a caller that may not see some subscriptions' items still gets Limit items of
	// the ones it may see, not fewer.
	Hide func(subscriptionUID string) bool
}

const (
	defaultLogLimit = 10
	// maxLogScan bounds a status-filtered query over a long history.
	maxLogScan = 100_000
)

// Logs returns log items newest first: a prefix scan of the time-inverted
// index of the client (or of all clients).
func (q *Queue) Logs(query LogQuery) ([]LogItem, error) {
	limit := query.Limit
	if limit <= 0 {
		limit = defaultLogLimit
	}
	prefix := prefixIndexAll
	if !query.AnyClient {
		prefix = indexClientPrefix(query.ClientID)
	}
	var items []LogItem
	err := q.db.View(func(txn *badger.Txn) error {
		it := keyIterator(txn, prefix)
		defer it.Close()
		scanned := 0
		for it.Rewind(); it.Valid() && len(items) < limit && scanned < maxLogScan; it.Next() {
			scanned++
			id := indexID(it.Item().Key(), len(prefix))
			rec, err := getState(txn, id)
			if errors.Is(err, ErrNotFound) {
				continue // expired between index and record
			}
			if err != nil {
				return err
			}
			if query.Status != "" && rec.Status != query.Status {
				continue
			}
			if query.Hide != nil && query.Hide(rec.SubscriptionUID) {
				continue
			}
			if err := loadBody(txn, &rec); err != nil {
				return err
			}
			items = append(items, rec.logItem())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	return items, nil
}

// Log returns one log item by message id.
func (q *Queue) Log(id string) (LogItem, bool, error) {
	var rec record
	err := q.db.View(func(txn *badger.Txn) error {
		var err error
		rec, err = getRecord(txn, id)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return LogItem{}, false, nil
	}
	if err != nil {
		return LogItem{}, false, fmt.Errorf("read log %s: %w", id, err)
	}
	return rec.logItem(), true, nil
}

// Retry makes the message due now, whatever its status but "limited" (a
// limited event was never queued). A delivered or dead one is sent again
// with the same webhook-id; if that attempt fails it is dead again at once,
// as its schedule is spent. A job being attempted right now is waited for
// (holdForRetry): at most its timeout.
//
// It answers ErrDiskFull, and changes nothing, while the disk gate keeps the
// queue from writing.
func (q *Queue) Retry(id string) error {
	if !q.disk.allowBookkeeping() {
		return ErrDiskFull
	}
	release := q.sched.holdForRetry(id)
	now := q.now().UnixNano()
	var (
		reopened bool
		dest     string
	)
	err := q.updateRecord(id, func(txn *badger.Txn, rec *record) error {
		reopened = false
		if rec.Status == StatusLimited {
			return ErrNotRetryable
		}
		if rec.NextAttempt != 0 {
			if err := txn.Delete(rec.jobKey()); err != nil {
				return fmt.Errorf("delete job: %w", err)
			}
		}
		if isFinal(rec.Status) {
			reopened = true
			rec.Status = StatusRetrying
			rec.Processed = 0
		}
		rec.NextAttempt = now
		dest = destinationOf(rec.URL)
		if err := txn.SetEntry(badger.NewEntry(rec.jobKey(), nil)); err != nil {
			return fmt.Errorf("schedule job: %w", err)
		}
		reindex := extendPendingIndex(q.config(), rec, now)
		if reopened {
			// The final outcome gave the state the log's TTL, which
			// setStateIn takes off, and the index keys theirs;
			// versions before the value-log layout gave the body one too.
			if err := keepBodyIn(txn, rec.ID); err != nil {
				return err
			}
			rec.IndexExpires = pendingIndexExpiry(q.config(), now)
			reindex = true
		}
		return setStateIn(txn, rec, 0, reindex)
	})
	// Released before the note: a pass that refused the new job key while
	// it was held may have moved the cursor past it, and the note moves the
	// cursor back.
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
	q.sched.note(dest, now)
	return nil
}
