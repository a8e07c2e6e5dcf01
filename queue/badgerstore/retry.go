package badgerstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/sidehook/sidehook/queue/store"
)

// Retry makes the job of id due at now, whatever its status but limited (a limited event was
// never queued). A final one is reopened: it is sent again with the same id, keeps its attempt
// count, and so is dead again at once if that attempt fails. A job under claim is waited for
// (claims.hold): at most its attempt's timeout and its Record.
//
// It answers ErrDiskFull, and changes nothing, while the disk gate keeps the store from writing.
func (s *Store) Retry(id string, now time.Time, p store.Policy) (reopened bool, err error) {
	if !s.enter() {
		return false, store.ErrClosed
	}
	defer s.leave()
	if !s.disk.allowBookkeeping() {
		return false, store.ErrDiskFull
	}
	if err := s.claims.hold(id); err != nil {
		return false, err
	}
	nowNs := now.UnixNano()
	prev, next, err := s.updateRecord(id, func(txn *badger.Txn, prev record) (record, error) {
		return reschedule(txn, prev, nowNs, p)
	})
	// Unheld before the announce: a Claim that skipped the held key may have moved the cursor
	// past it, and the note moves the cursor back (claims' rule).
	s.claims.unhold(id)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrNotRetryable):
		return false, err
	case err != nil:
		if prev.NextAttempt != 0 {
			// The old key stays, perhaps behind the cursor after the hold: look again later.
			s.claims.lose(id, prev.dest(), prev.NextAttempt)
		}
		return false, fmt.Errorf("retry %s: %w", id, err)
	}
	reopened = store.IsFinal(prev.Status)
	if reopened {
		s.jobs.Add(1)
	}
	s.claims.announce(next.dest(), nowNs)
	return reopened, nil
}

// reschedule writes, inside txn, prev's job moved to (or, for a final record, created again at)
// nowNs, and returns the new state.
func reschedule(txn *badger.Txn, prev record, nowNs int64, p store.Policy) (record, error) {
	if prev.Status == store.StatusLimited {
		return prev, store.ErrNotRetryable
	}
	if prev.NextAttempt != 0 {
		if err := txn.Delete(prev.jobKey()); err != nil {
			return prev, fmt.Errorf("delete job: %w", err)
		}
	}
	next := prev
	next.NextAttempt = nowNs
	next.IndexExpires, _ = pendingIndex(p, prev.IndexExpires, nowNs)
	reindex := next.IndexExpires != prev.IndexExpires
	if store.IsFinal(prev.Status) {
		// The final outcome gave the state the log's TTL, which setState takes off, and the index
		// keys theirs, which must last the new pending life.
		next.Status, next.Processed = store.StatusRetrying, 0
		next.IndexExpires, reindex = pendingIndexExpiry(p, nowNs), true
	}
	if err := txn.SetEntry(badger.NewEntry(next.jobKey(), nil)); err != nil {
		return prev, fmt.Errorf("schedule job: %w", err)
	}
	return next, setState(txn, &next, 0, reindex)
}

// updateRecord runs change on the current state of id in a transaction and retries on a conflict:
// an operator's Retry and another Retry may touch the same record at once, and Badger's conflict
// detection makes the later one start over instead of losing the first one's update. It returns
// the state change was given and the one it made.
func (s *Store) updateRecord(id string, change func(txn *badger.Txn, prev record) (record, error)) (prev, next record, err error) {
	const maxConflicts = 16
	for range maxConflicts {
		err = s.db.Update(func(txn *badger.Txn) error {
			var err error
			if prev, err = getState(txn, id); err != nil {
				return err
			}
			next, err = change(txn, prev)
			return err
		})
		if !errors.Is(err, badger.ErrConflict) {
			return prev, next, err
		}
	}
	return prev, next, fmt.Errorf("update record %s: %w", id, err)
}
