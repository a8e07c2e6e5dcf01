package badgerstore

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/sidehook/sidehook/queue/store"
	"go.uber.org/zap"
)

// maxScanPerDestination bounds how many keys of one destination a Claim looks at. Only claimed or
// stale keys are stepped over, and there are about as many of those as the engine lets run at once.
const maxScanPerDestination = 1024

// claimRef is Job.Ref: the state the Claim read, which Record writes its outcome over without
// reading it again (nothing else writes the state of a claimed job).
type claimRef struct {
	state record // without its body
}

// Claim claims up to max unclaimed jobs of dest due by now, in due order, reading their states and
// bodies in the same transaction as their keys. It starts at dest's cursor (claims.go) and moves
// it to the last job claimed.
func (s *Store) Claim(dest string, now int64, max int) ([]store.Job, int64, error) {
	if !s.enter() {
		return nil, 0, store.ErrClosed
	}
	defer s.leave()
	if max <= 0 {
		return nil, 0, nil
	}
	p := s.claims.beginPass(dest)
	defer s.claims.endPass(p)
	var (
		jobs    []store.Job
		next    int64
		orphans [][]byte
	)
	err := s.db.View(func(txn *badger.Txn) error {
		if s.inScan != nil {
			s.inScan()
		}
		prefix := jobDestPrefix(dest)
		it := keyIterator(txn, prefix)
		defer it.Close()
		rd := newPassReader(txn)
		defer rd.close()
		start := prefix
		if p.cursor != nil {
			start = p.cursor
		}
		scanned := 0
		for it.Seek(start); it.Valid(); it.Next() {
			_, due, id, err := parseJobKey(it.Item().Key())
			if err != nil {
				continue
			}
			if due > now {
				next = due
				return nil
			}
			if scanned++; scanned > maxScanPerDestination {
				next = due // more to see: the engine asks again
				return nil
			}
			if len(jobs) == max {
				if s.claims.claimable(p, id) {
					next = due
					return nil
				}
				continue
			}
			if !s.claims.claim(p, id) {
				continue
			}
			job, err := loadDue(rd, dest, due, id)
			switch {
			case errors.Is(err, store.ErrNotFound):
				// A job key without its record: damage, as Enqueue writes the state before
				// the key. Drop it.
				orphans = append(orphans, it.Item().KeyCopy(nil))
				s.claims.end(id)
			case err != nil:
				s.logger.Error("load job", zap.String("id", id), zap.Error(err))
				s.claims.lose(id, dest, due)
			case job == nil:
				s.claims.end(id) // a key the snapshot still holds and the record has moved on from
			default:
				s.claims.advance(p, it.Item().KeyCopy(nil))
				jobs = append(jobs, *job)
			}
		}
		return nil
	})
	if err != nil {
		for _, j := range jobs {
			s.claims.lose(j.ID, j.Dest, j.Due)
		}
		return nil, 0, fmt.Errorf("claim jobs of %s: %w", dest, err)
	}
	s.dropOrphans(orphans)
	return jobs, next, nil
}

// loadDue reads the record of a job just claimed through the Claim's reader and checks that the
// job is still the one its key says; nil (and no error) when it is not.
func loadDue(rd *passReader, dest string, due int64, id string) (*store.Job, error) {
	rec, err := rd.state(id)
	if err != nil {
		return nil, err
	}
	if store.IsFinal(rec.Status) || rec.NextAttempt != due {
		return nil, nil
	}
	body, err := rd.body(id)
	if err != nil {
		return nil, err
	}
	ev := rec.event()
	ev.Body = body
	return &store.Job{Event: ev, Dest: dest, Due: due, Attempts: rec.Attempts, Ref: &claimRef{state: rec}}, nil
}

// dropOrphans deletes job keys whose record is gone.
func (s *Store) dropOrphans(keys [][]byte) {
	for _, k := range keys {
		err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(k) })
		if err != nil {
			s.logger.Error("drop orphan job key", zap.ByteString("key", k), zap.Error(err))
			continue
		}
		s.jobs.Add(-1)
	}
}

// Release ends the claims of jobs that were not attempted: they are due again as they were.
func (s *Store) Release(jobs []store.Job) { s.claims.release(jobs) }

// discover announces every destination that has jobs, jumping from one destination's range to
// the next: one seek per destination, however long the backlog. The due time announced is the
// destination's first key's, which is never later than its first unclaimed job's.
func (s *Store) discover() error {
	return s.db.View(func(txn *badger.Txn) error {
		it := keyIterator(txn, prefixJob)
		defer it.Close()
		for it.Rewind(); it.Valid(); {
			dest, due, _, err := parseJobKey(it.Item().Key())
			if err != nil {
				it.Next()
				continue
			}
			s.claims.announce(dest, due)
			it.Seek(jobDestEnd(dest))
		}
		return nil
	})
}
