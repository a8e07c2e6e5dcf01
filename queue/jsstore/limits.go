package jsstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// casRounds bounds a compare-and-set loop on one counter: each lost round means another process's write
// landed, so even a busy counter settles long before this.
const casRounds = 100

// reserve takes up to n of the limit left on the counter at key and returns how many it took. The counter
// is compared and set (the write names the revision it read), so two processes never both take the last
// unit: the daily limit is exact across every process sharing the bucket.
func (s *Store) reserve(ctx context.Context, key string, n, limit int) (int, error) {
	for range casRounds {
		count, rev, err := s.readCounter(ctx, key)
		if err != nil {
			return 0, err
		}
		granted := min(n, limit-count)
		if granted <= 0 {
			return 0, nil
		}
		if err := s.writeCounter(ctx, key, count+granted, rev); errors.Is(err, jetstream.ErrKeyExists) ||
			errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // another process counted meanwhile: read again
		} else if err != nil {
			return 0, err
		}
		return granted, nil
	}
	return 0, fmt.Errorf("jsstore: daily counter %s: still contended after %d rounds", key, casRounds)
}

// giveBack returns n units to the counter at key: the events they were taken for were not stored, and the
// contract says a failed Enqueue counts nothing against the limit.
func (s *Store) giveBack(ctx context.Context, key string, n int) error {
	for range casRounds {
		count, rev, err := s.readCounter(ctx, key)
		if err != nil {
			return err
		}
		if err := s.writeCounter(ctx, key, max(0, count-n), rev); errors.Is(err, jetstream.ErrKeyExists) ||
			errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		} else if err != nil {
			return err
		}
		return nil
	}
	return fmt.Errorf("jsstore: daily counter %s: still contended after %d rounds", key, casRounds)
}

// readCounter returns the counter at key and its revision; a counter never written is 0 at revision 0.
func (s *Store) readCounter(ctx context.Context, key string) (int, uint64, error) {
	var e jetstream.KeyValueEntry
	err := retryUnanswered(ctx, func(ctx context.Context) (err error) {
		e, err = s.b.limits.Get(ctx, key)
		return err
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("jsstore: reading daily counter %s: %w", key, err)
	}
	count, err := strconv.Atoi(string(e.Value()))
	if err != nil {
		return 0, 0, fmt.Errorf("jsstore: daily counter %s holds %q: %w", key, e.Value(), err)
	}
	return count, e.Revision(), nil
}

// writeCounter sets the counter at key to count if its revision is still rev (0: if it does not exist yet).
func (s *Store) writeCounter(ctx context.Context, key string, count int, rev uint64) error {
	value := []byte(strconv.Itoa(count))
	var err error
	if rev == 0 {
		_, err = s.b.limits.Create(ctx, key, value)
	} else {
		_, err = s.b.limits.Update(ctx, key, value, rev)
	}
	return err
}
