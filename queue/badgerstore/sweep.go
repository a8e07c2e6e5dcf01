package badgerstore

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

const (
	// sweepMinAge: bodies of messages younger than this are never swept.
	// Enqueue writes a body before its state, and a batch too big for one
	// transaction is committed in parts (batchWriter), so for a moment a
	// body can have no state yet; an hour is far beyond that moment.
	sweepMinAge = time.Hour
	// sweepPerRun bounds the bodies one run looks at; the next run goes on
	// from where this one stopped, so a large backlog is covered over
	// several runs instead of stalling one.
	sweepPerRun = 100_000
	// sweepBatch is how many deletions go into one write.
	sweepBatch = 1000
)

// bodySweep is where the next sweep starts.
type bodySweep struct {
	mu     sync.Mutex
	cursor []byte // nil: the first body
}

// sweepBodies deletes the bodies whose record has expired (or is missing)
// and returns how many it deleted. Bodies never expire themselves (see
// bodyEntry); their record's state and index keys carry the log's TTL.
// Message ids start with their creation time, so bodies sort by age and a
// run stops at the first one younger than sweepMinAge. Ids of another form
// (not from NewMessageID) are never swept.
func (s *Store) sweepBodies(now time.Time) (int, error) {
	s.sweep.mu.Lock()
	defer s.sweep.mu.Unlock()
	prefix := append(append([]byte(nil), prefixBody...), "msg_"...)
	cutoff := now.Add(-sweepMinAge).UnixMilli()
	var orphans [][]byte
	var next []byte
	err := s.db.View(func(txn *badger.Txn) error {
		it := keyIterator(txn, prefix)
		defer it.Close()
		start := prefix
		if s.sweep.cursor != nil {
			start = s.sweep.cursor
		}
		seen := 0
		for it.Seek(start); it.Valid(); it.Next() {
			key := it.Item().Key()
			id := string(key[len(prefixBody):])
			ms, ok := messageIDTime(id)
			if !ok {
				continue
			}
			if ms > cutoff {
				return nil // the rest is younger: start again from the first next time
			}
			if seen++; seen > sweepPerRun {
				next = it.Item().KeyCopy(nil)
				return nil
			}
			_, err := txn.Get(recordKey(id))
			switch {
			case err == nil:
			case errors.Is(err, badger.ErrKeyNotFound):
				orphans = append(orphans, it.Item().KeyCopy(nil))
			default:
				return fmt.Errorf("read record %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweep bodies: %w", err)
	}
	s.sweep.cursor = next
	deleted := len(orphans)
	for len(orphans) > 0 {
		n := min(len(orphans), sweepBatch)
		wb := s.db.NewWriteBatch()
		for _, k := range orphans[:n] {
			if err := wb.Delete(k); err != nil {
				wb.Cancel()
				return 0, fmt.Errorf("sweep bodies: %w", err)
			}
		}
		if err := wb.Flush(); err != nil {
			return 0, fmt.Errorf("sweep bodies: %w", err)
		}
		orphans = orphans[n:]
	}
	return deleted, nil
}

// crockford is the alphabet of message ids (queue.NewMessageID): Crockford's base32, which sorts
// lexically in the order of the time the id starts with.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// messageIDTime is the creation time (unix milliseconds) a NewMessageID id
// starts with: its first 10 base32 characters are the 48-bit time.
// Ids are the engine's (queue.NewMessageID); this package cannot import it, so
// the format is read here: "msg_" and 26 characters.
func messageIDTime(id string) (int64, bool) {
	rest, ok := strings.CutPrefix(id, "msg_")
	if !ok || len(rest) != 26 {
		return 0, false
	}
	var ms int64
	for i := 0; i < len(rest); i++ {
		v := strings.IndexByte(crockford, rest[i])
		if v < 0 {
			return 0, false
		}
		if i < 10 {
			ms = ms<<5 | int64(v)
		}
	}
	return ms, true
}
