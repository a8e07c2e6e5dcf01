package queue

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// EnqueueResult says how many messages were queued for delivery and how many
// were turned away by the daily limit (and only logged).
type EnqueueResult struct{ Queued, Limited int }

// ErrClosed is returned by Enqueue after Close.
var ErrClosed = errors.New("queue: closed")

// Enqueue stores msgs durably in one Badger transaction and returns after
// the commit: from then on the events survive the process being killed (see
// badgerOptions for why). Concurrent calls are not serialised here; Badger
// groups their commits into shared writes. A message with an empty ID gets one.
func (q *Queue) Enqueue(ctx context.Context, msgs []Message) (res EnqueueResult, err error) {
	if q.closed.Load() {
		return res, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("enqueue: %w", err)
	}
	size := enqueueSize(msgs)
	if !q.disk.allowEnqueue(size) {
		return res, ErrDiskFull
	}
	q.disk.begin(size)
	defer q.disk.done(size)
	cfg := q.config()
	now := cfg.Now()
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

	dests := make(map[string]struct{}, 1)
	w := newBatchWriter(q.db)
	defer w.discard()
	defer func() {
		// A batch too big for one transaction is committed in parts: if a
		// later part failed, the jobs of the earlier parts exist all the
		// same, and the scheduler must hear of them (a note for a
		// destination without jobs only costs one look).
		if w.spilled && err != nil {
			for dest := range dests {
				q.sched.note(dest, nowNs)
			}
		}
	}()
	for i := range msgs {
		m := &msgs[i]
		id := m.ID
		if id == "" {
			id = NewMessageID()
		}
		created := nowNs
		if !m.Created.IsZero() {
			created = m.Created.UnixNano()
		}
		limited := false
		if cfg.DailyLimit > 0 {
			key := dailyKey(day, m.ClientID, m.UserID)
			c, err := q.limits.counter(q.db, day, key)
			if err != nil {
				undo()
				return EnqueueResult{}, fmt.Errorf("enqueue: %w", err)
			}
			if c.Add(1) > int64(cfg.DailyLimit) {
				c.Add(-1)
				limited = true
			} else {
				reserved = append(reserved, reservation{key, c})
			}
		}
		rec := record{
			ID:              id,
			SubscriptionUID: m.SubscriptionUID,
			ClientID:        m.ClientID,
			UserID:          m.UserID,
			URL:             m.URL,
			Body:            m.Body,
			Created:         created,
		}
		var err error
		if limited {
			rec.Status = StatusLimited
			rec.Processed = nowNs
			rec.Error = fmt.Sprintf("daily limit of %d reached", cfg.DailyLimit)
			rec.IndexExpires = int64(expiresAt(cfg.KeepLogs))
			err = w.setRecord(&rec, cfg.KeepLogs)
			q.compact.noteExpiry(now.Add(cfg.KeepLogs).UnixNano())
			res.Limited++
		} else {
			rec.Status = StatusPending
			rec.NextAttempt = nowNs
			rec.IndexExpires = pendingIndexExpiry(cfg, nowNs)
			err = w.setRecord(&rec, 0)
			if err == nil {
				dest := destinationOf(rec.URL)
				dests[dest] = struct{}{}
				err = w.set(badger.NewEntry(rec.jobKey(), nil))
			}
			res.Queued++
		}
		if err != nil {
			undo()
			return EnqueueResult{}, fmt.Errorf("enqueue message %s: %w", id, err)
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
			return EnqueueResult{}, fmt.Errorf("enqueue: write daily counter: %w", err)
		}
	}
	if err := w.commit(); err != nil {
		undo()
		return EnqueueResult{}, fmt.Errorf("enqueue: commit: %w", err)
	}
	q.stats.depth.Add(int64(res.Queued))
	q.stats.limited.Add(uint64(res.Limited))
	for dest := range dests {
		q.sched.note(dest, nowNs)
	}
	return res, nil
}

// enqueueSize is what storing msgs writes, for the disk gate: each body
// once (value log), with a generous KiB for its keys, state and index entries
// and their copies in the write-ahead log.
func enqueueSize(msgs []Message) int64 {
	var n int64
	for i := range msgs {
		n += int64(len(msgs[i].Body)) + 1<<10
	}
	return n
}

// destinationOf is the key PerDestination counts by: host and port, so two
// services on one machine are two destinations.
func destinationOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "invalid"
	}
	return u.Host
}

// batchWriter is a write transaction that spills into a new transaction when
// Badger reports it too big, so one Enqueue of a huge batch still succeeds
// (as several commits) instead of failing.
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

// setRecord writes the record's body, state and two log index keys; ttl 0
// keeps the state until the final outcome rewrites it with the log's TTL (the
// body never has one: bodyEntry; the index keys expire at rec.IndexExpires).
func (w *batchWriter) setRecord(rec *record, ttl time.Duration) error {
	for _, e := range recordEntries(rec, ttl) {
		if err := w.set(e); err != nil {
			return err
		}
	}
	return nil
}

func (w *batchWriter) commit() error { return w.txn.Commit() }
func (w *batchWriter) discard()      { w.txn.Discard() }
