package badgerstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/sidehook/sidehook/queue/store"
)

var (
	errNotClaimed = errors.New("outcome of a job that is not claimed")
	errBadOutcome = errors.New("outcome status is neither retrying nor a final status of an attempt")
)

// written is what writeOutcome wrote, for what follows the commit.
type written struct {
	final   bool
	nextDue int64  // retrying: the job's new due time
	expires uint64 // final: when the last of its entries expires, unix seconds (0: never)
}

// Record writes the outcomes in one transaction, all or none, then ends their claims. A
// retrying outcome's job is announced at its NextDue. On an error every job stays as it was,
// and is announced again lostRetry later, not at once, so that a failing disk is not spun on.
//
// There is no disk gate here: the attempts happened, and their outcomes are a few KiB each that
// the gate's floor leaves room for; the write is counted (begin, done) like every other.
func (s *Store) Record(outcomes []store.Outcome, p store.Policy) error {
	if !s.enter() {
		return store.ErrClosed
	}
	defer s.leave()
	results := make([]written, len(outcomes))
	err := s.checkOutcomes(outcomes)
	if err == nil {
		var size int64
		for i := range outcomes {
			size += int64(len(outcomes[i].ResponseData)) + 512
		}
		s.disk.begin(size)
		err = s.db.Update(func(txn *badger.Txn) error {
			for i := range outcomes {
				w, err := writeOutcome(txn, &outcomes[i], p)
				if err != nil {
					return err
				}
				results[i] = w
			}
			return nil
		})
		s.disk.done(size)
	}
	if err != nil {
		for _, o := range outcomes {
			s.claims.lose(o.Job.ID, o.Job.Dest, o.Job.Due)
		}
		return fmt.Errorf("record %d outcomes: %w", len(outcomes), err)
	}
	for i, o := range outcomes {
		s.claims.end(o.Job.ID)
		if w := results[i]; w.final {
			s.jobs.Add(-1)
			s.finished.Add(1)
			s.compact.noteExpiry(time.Unix(int64(w.expires), 0).UnixNano())
		} else {
			s.claims.announce(o.Job.Dest, w.nextDue)
		}
	}
	return nil
}

// checkOutcomes refuses a batch with an outcome of an unclaimed job (recorded twice, or never
// claimed: its Ref's state may be stale) or with a status an attempt cannot have.
func (s *Store) checkOutcomes(outcomes []store.Outcome) error {
	for _, o := range outcomes {
		if !s.claims.isClaimed(o.Job.ID) {
			return fmt.Errorf("%s: %w", o.Job.ID, errNotClaimed)
		}
		if o.Status != store.StatusRetrying && (!store.IsFinal(o.Status) || o.Status == store.StatusLimited) {
			return fmt.Errorf("%s: %q: %w", o.Job.ID, o.Status, errBadOutcome)
		}
	}
	return nil
}

// writeOutcome writes o inside txn over the state its Claim read: the job key is deleted, or moved
// to NextDue, and the state rewritten; the index keys only when their expiry is off
// (indexexpiry.go); the body never.
func writeOutcome(txn *badger.Txn, o *store.Outcome, p store.Policy) (written, error) {
	prev, err := claimedState(txn, o.Job)
	if err != nil {
		return written{}, err
	}
	if prev.NextAttempt != 0 {
		if err := txn.Delete(prev.jobKey()); err != nil {
			return written{}, fmt.Errorf("delete job %s: %w", prev.ID, err)
		}
	}
	next := prev
	if o.Requested {
		next.ResponseCode, next.ResponseData = o.ResponseCode, o.ResponseData
	}
	next.Attempts = o.Attempts
	next.Error = o.Error
	if o.Status == store.StatusRetrying {
		next.Status, next.NextAttempt, next.Processed = store.StatusRetrying, o.NextDue, 0
		var reindex bool
		next.IndexExpires, reindex = pendingIndex(p, prev.IndexExpires, o.NextDue)
		if err := txn.SetEntry(badger.NewEntry(next.jobKey(), nil)); err != nil {
			return written{}, fmt.Errorf("reschedule job %s: %w", next.ID, err)
		}
		return written{nextDue: o.NextDue}, setState(txn, &next, 0, reindex)
	}
	next.Status, next.NextAttempt, next.Processed = o.Status, 0, o.End
	// The state gets the log's TTL; the index keys only when theirs is off. The body keeps none
	// (bodyEntry): sweepBodies deletes it once this state has expired.
	exp := expiresAt(p.KeepLogs)
	var reindex bool
	next.IndexExpires, reindex = finalIndex(prev.IndexExpires, exp, p.KeepLogs)
	w := written{final: true, expires: max(exp, uint64(next.IndexExpires))}
	if exp == 0 {
		w.expires = 0
	}
	return w, setState(txn, &next, exp, reindex)
}

// claimedState is the state the job's Claim read (Job.Ref), or, for a Ref this store did not
// make, the state read now.
func claimedState(txn *badger.Txn, j store.Job) (record, error) {
	if ref, ok := j.Ref.(*claimRef); ok && ref != nil && ref.state.ID == j.ID {
		return ref.state, nil
	}
	return getState(txn, j.ID)
}
