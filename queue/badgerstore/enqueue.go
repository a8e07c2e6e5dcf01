package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/sidehook/sidehook/queue/store"
)

var errNoID = errors.New("event without an id")

// Enqueue stores events durably in one Badger transaction and returns after the commit: from then
// on the events survive the process being killed (see badgerOptions for why). Concurrent calls are
// not serialised here; Badger groups their commits into shared writes.
func (s *Store) Enqueue(ctx context.Context, events []store.Event, now time.Time, p store.Policy) (res store.EnqueueResult, err error) {
	if !s.enter() {
		return res, store.ErrClosed
	}
	defer s.leave()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("enqueue: %w", err)
	}
	size := enqueueSize(events)
	if !s.disk.allowEnqueue(size) {
		return res, store.ErrDiskFull
	}
	s.disk.begin(size)
	defer s.disk.done(size)
	nowNs := now.UnixNano()
	day := utcDay(now)

	type reservation struct {
		key     []byte
		counter *atomic.Int64
	}
	var reserved []reservation
	undo := func() {
		for _, r := range reserved {
			r.counter.Add(-1)
		}
	}
	queued := make([]bool, len(events))
	dests := make(map[string]struct{}, 1)
	var jobs int64
	w := newBatchWriter(s.db)
	defer w.discard()
	defer func() {
		// A batch too big for one transaction is committed in parts: if a later part failed, the
		// jobs of the earlier parts exist all the same, and the watcher must hear of them (an
		// announce of a destination without jobs only costs the engine one Claim).
		if w.spilled && err != nil {
			s.jobs.Add(jobs)
			for dest := range dests {
				s.claims.announce(dest, nowNs)
			}
		}
	}()
	for i := range events {
		ev := &events[i]
		if ev.ID == "" {
			undo()
			return store.EnqueueResult{}, fmt.Errorf("enqueue event %d: %w", i, errNoID)
		}
		limited := false
		if p.DailyLimit > 0 {
			key := dailyKey(day, ev.ClientID, ev.UserID)
			c, err := s.limits.counter(s.db, day, key)
			if err != nil {
				undo()
				return store.EnqueueResult{}, fmt.Errorf("enqueue: %w", err)
			}
			if c.Add(1) > int64(p.DailyLimit) {
				c.Add(-1)
				limited = true
			} else {
				reserved = append(reserved, reservation{key, c})
			}
		}
		rec := newRecord(ev, nowNs)
		if limited {
			rec.Status = store.StatusLimited
			rec.Processed = nowNs
			rec.Error = fmt.Sprintf("daily limit of %d reached", p.DailyLimit)
			exp := expiresAt(p.KeepLogs)
			rec.IndexExpires = int64(exp)
			err = w.setAll(recordEntries(&rec, exp))
			s.compact.noteExpiry(now.Add(p.KeepLogs).UnixNano())
		} else {
			rec.Status = store.StatusPending
			rec.NextAttempt = nowNs
			rec.IndexExpires = pendingIndexExpiry(p, nowNs)
			err = w.setAll(append(recordEntries(&rec, 0), badger.NewEntry(rec.jobKey(), nil)))
			if err == nil {
				dests[rec.dest()] = struct{}{}
				queued[i] = true
				jobs++
			}
		}
		if err != nil {
			undo()
			return store.EnqueueResult{}, fmt.Errorf("enqueue event %s: %w", ev.ID, err)
		}
	}
	// Persist each touched counter once, with its value after this batch.
	seen := make(map[string]bool, len(reserved))
	for _, r := range reserved {
		if seen[string(r.key)] {
			continue
		}
		seen[string(r.key)] = true
		if err := w.set(dailyCounterEntry(r.key, r.counter.Load())); err != nil {
			undo()
			return store.EnqueueResult{}, fmt.Errorf("enqueue: write daily counter: %w", err)
		}
	}
	if err := w.commit(); err != nil {
		undo()
		return store.EnqueueResult{}, fmt.Errorf("enqueue: commit: %w", err)
	}
	s.jobs.Add(jobs)
	for i := range events {
		if !queued[i] {
			s.finished.Add(1) // a limited log item: something a drained store's flatten reclaims
		}
	}
	for dest := range dests {
		s.claims.announce(dest, nowNs)
	}
	return store.EnqueueResult{Queued: queued}, nil
}

// newRecord is the record of a new event, its Created defaulting to now.
func newRecord(ev *store.Event, nowNs int64) record {
	created := ev.Created
	if created == 0 {
		created = nowNs
	}
	return record{
		ID:              ev.ID,
		SubscriptionUID: ev.SubscriptionUID,
		ClientID:        ev.ClientID,
		UserID:          ev.UserID,
		URL:             ev.URL,
		Body:            ev.Body,
		Created:         created,
	}
}

// enqueueSize is what storing events writes, for the disk gate: each body once (value log), with a
// generous KiB for its keys, state and index entries and their copies in the write-ahead log.
func enqueueSize(events []store.Event) int64 {
	var n int64
	for i := range events {
		n += int64(len(events[i].Body)) + 1<<10
	}
	return n
}

// batchWriter is a write transaction that spills into a new transaction when Badger reports it
// too big, so one Enqueue of a huge batch still succeeds (as several commits) instead of failing.
type batchWriter struct {
	db      *badger.DB
	txn     *badger.Txn
	spilled bool // a part was committed already
}

func newBatchWriter(db *badger.DB) *batchWriter {
	return &batchWriter{db: db, txn: db.NewTransaction(true)}
}

func (w *batchWriter) set(e *badger.Entry) error {
	err := w.txn.SetEntry(e)
	if !errors.Is(err, badger.ErrTxnTooBig) {
		return err
	}
	if err := w.txn.Commit(); err != nil {
		return err
	}
	w.spilled = true
	w.txn = w.db.NewTransaction(true)
	return w.txn.SetEntry(e)
}

// setAll sets entries in order: a record's body before its state, its state before its job key.
func (w *batchWriter) setAll(entries []*badger.Entry) error {
	for _, e := range entries {
		if err := w.set(e); err != nil {
			return err
		}
	}
	return nil
}

func (w *batchWriter) commit() error { return w.txn.Commit() }
func (w *batchWriter) discard()      { w.txn.Discard() }
