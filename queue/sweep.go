package queue

import (
	"bytes"
	"encoding/binary"
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

// sweepState is where the next sweeps start.
type sweepState struct {
	mu     sync.Mutex
	cursor []byte // bodies: nil, the first body
	// index is where the next sweepIndex goes on, walking the client
	// index backwards (nil: from its last key).
	index []byte
}

// sweepBodies deletes the bodies whose record has expired (or is missing)
// and returns how many it deleted. Bodies never expire themselves (see
// bodyEntry); their record's state carries the log's TTL.
// Message ids start with their creation time, so bodies sort by age and a
// run stops at the first one younger than sweepMinAge. Ids of another form
// (not from NewMessageID) are never swept.
func (q *Queue) sweepBodies(now time.Time) (int, error) {
	q.sweep.mu.Lock()
	defer q.sweep.mu.Unlock()
	prefix := append(append([]byte(nil), prefixBody...), "msg_"...)
	cutoff := now.Add(-sweepMinAge).UnixMilli()
	var orphans [][]byte
	var next []byte
	err := q.db.View(func(txn *badger.Txn) error {
		it := keyIterator(txn, prefix)
		defer it.Close()
		start := prefix
		if q.sweep.cursor != nil {
			start = q.sweep.cursor
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
	q.sweep.cursor = next
	if err := q.deleteKeys(orphans); err != nil {
		return 0, fmt.Errorf("sweep bodies: %w", err)
	}
	return len(orphans), nil
}

// messageIDTime is the creation time (unix milliseconds) a NewMessageID id
// starts with: its first 10 base32 characters are the 48-bit time.
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

// sweepIndex deletes the log index keys (a/ and c/) of records whose state
// has expired, and returns how many records it unindexed. Index keys never
// expire themselves (see indexEntries). The client index c/<client>\0<^created><id>
// names both keys of a record, and walked backwards it gives each client's
// oldest records first: a record created within keep of now cannot have
// expired (its state expires keep after its final outcome), so the walk
// leaves a client at its first such key and goes on with the previous client.
// What it looks at is thus the index keys older than keep: expired ones,
// deleted here, and those of records pending for that long.
func (q *Queue) sweepIndex(now time.Time, keep time.Duration) (int, error) {
	q.sweep.mu.Lock()
	defer q.sweep.mu.Unlock()
	cutoff := now.Add(-keep).UnixNano()
	var stale [][]byte
	var next []byte
	err := q.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefixIndexClient
		opts.Reverse = true
		it := txn.NewIterator(opts)
		defer it.Close()
		start := q.sweep.index
		if start == nil {
			start = append(append([]byte(nil), prefixIndexClient...), 0xff)
		}
		seen := 0
		for it.Seek(start); it.Valid(); {
			key := it.Item().Key()
			client, created, id, ok := parseIndexClientKey(key)
			if !ok {
				it.Next()
				continue
			}
			if created >= cutoff {
				// The rest of this client's keys are newer still.
				it.Seek(indexClientPrefix(client))
				continue
			}
			if seen++; seen > sweepPerRun {
				next = it.Item().KeyCopy(nil)
				return nil
			}
			_, err := txn.Get(recordKey(id))
			switch {
			case err == nil:
			case errors.Is(err, badger.ErrKeyNotFound):
				stale = append(stale, it.Item().KeyCopy(nil), indexAllKey(created, id))
			default:
				return fmt.Errorf("read record %s: %w", id, err)
			}
			it.Next()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweep log index: %w", err)
	}
	q.sweep.index = next
	if err := q.deleteKeys(stale); err != nil {
		return 0, fmt.Errorf("sweep log index: %w", err)
	}
	return len(stale) / 2, nil
}

// parseIndexClientKey splits c/<client>\0<^created 8 bytes><id>.
func parseIndexClientKey(k []byte) (client string, created int64, id string, ok bool) {
	rest, found := bytes.CutPrefix(k, prefixIndexClient)
	end := bytes.IndexByte(rest, 0)
	if !found || end < 0 || len(rest) < end+1+8 {
		return "", 0, "", false
	}
	inverted := binary.BigEndian.Uint64(rest[end+1:])
	return string(rest[:end]), int64(^inverted), string(rest[end+1+8:]), true
}

// deleteKeys deletes keys in writes of sweepBatch.
func (q *Queue) deleteKeys(keys [][]byte) error {
	for len(keys) > 0 {
		n := min(len(keys), sweepBatch)
		wb := q.db.NewWriteBatch()
		for _, k := range keys[:n] {
			if err := wb.Delete(k); err != nil {
				wb.Cancel()
				return err
			}
		}
		if err := wb.Flush(); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}
