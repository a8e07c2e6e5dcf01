package jsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sidehook/sidehook/queue/store"
)

// claimRef is Job.Ref: the job's key, the revision the claim wrote and the job as it was claimed. Every
// later write to the job names that revision, so it lands only while the claim is still this one (not taken
// over after its lease).
type claimRef struct {
	key string
	rev uint64
	job jobEntry
}

// candidate is an unclaimed job read by Claim.
type candidate struct {
	key string
	rev uint64
	job jobEntry
}

// Claim claims up to max of dest's unclaimed jobs due by now, in due order. It reads the destination's job
// keys, then claims each due one by a compare-and-set of its key (owner and lease written at the revision
// read): of two processes claiming one job, exactly one write lands and the other skips the job.
func (s *Store) Claim(dest string, now int64, max int) ([]store.Job, int64, error) {
	if s.isClosed() {
		return nil, 0, store.ErrClosed
	}
	ctx, cancel := s.request()
	defer cancel()
	due, next, err := s.candidates(ctx, dest, now)
	if err != nil {
		return nil, 0, err
	}
	var jobs []store.Job
	for i, c := range due {
		if len(jobs) == max {
			next = due[i].job.Due // the earliest due job left over by max
			break
		}
		job, ok, err := s.claimOne(ctx, c)
		if err != nil {
			s.Release(jobs)
			return nil, 0, err
		}
		if ok {
			jobs = append(jobs, job)
		}
	}
	return jobs, next, nil
}

// candidates reads dest's jobs and returns the unclaimed ones due by now in due order, and the due time of
// the earliest unclaimed one that is not due yet (0: none).
func (s *Store) candidates(ctx context.Context, dest string, now int64) ([]candidate, int64, error) {
	entries, err := readAll(ctx, s.b.jobs, s.b.jobsStream, token(dest)+".*")
	if err != nil {
		return nil, 0, fmt.Errorf("jsstore: reading the jobs of %s: %w", dest, err)
	}
	wall := time.Now().UnixNano()
	var due []candidate
	var next int64
	for _, e := range entries {
		var j jobEntry
		if err := json.Unmarshal(e.value, &j); err != nil {
			return nil, 0, fmt.Errorf("jsstore: job %s: %w", e.key, err)
		}
		switch {
		case j.claimedAt(wall):
		case j.Due <= now:
			due = append(due, candidate{key: e.key, rev: e.rev, job: j.unclaimed()})
		case next == 0 || j.Due < next:
			next = j.Due
		}
	}
	sort.Slice(due, func(a, b int) bool {
		if due[a].job.Due != due[b].job.Due {
			return due[a].job.Due < due[b].job.Due
		}
		return due[a].key < due[b].key
	})
	return due, next, nil
}

// claimOne claims c and reads its event; ok is false when another process changed the job first, or when
// the job has no event any more. That happens only to a job kept past its event's expiry (PendingSpan plus
// KeepLogs, which the retry schedule never reaches): such a job can never be attempted, so it is deleted
// rather than handed out, or left to fail every Claim of its destination.
func (s *Store) claimOne(ctx context.Context, c candidate) (store.Job, bool, error) {
	claimed := c.job
	claimed.Owner = s.owner
	claimed.LeaseUntil = time.Now().Add(s.cfg.ClaimLease).UnixNano()
	rev, err := s.b.jobs.Update(ctx, c.key, encode(claimed), c.rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return store.Job{}, false, nil
	}
	if err != nil {
		return store.Job{}, false, fmt.Errorf("jsstore: claiming %s: %w", c.key, err)
	}
	ref := claimRef{key: c.key, rev: rev, job: c.job}
	s.hold(ref)
	job := store.Job{Dest: c.job.Dest, Due: c.job.Due, Attempts: c.job.Attempts, Ref: ref}
	ev, found, err := s.readEvent(ctx, lastToken(c.key))
	if err == nil && !found {
		s.unhold(ref.key)
		if err := s.b.jobsStream.DeleteMsg(ctx, ref.rev); err != nil {
			return store.Job{}, false, fmt.Errorf("jsstore: deleting %s, whose event expired: %w", c.key, err)
		}
		return store.Job{}, false, nil
	}
	if err != nil {
		_ = s.releaseClaim(ctx, ref)
		return store.Job{}, false, err
	}
	job.Event = ev
	return job, true, nil
}

// lastToken is the last '.'-separated token of key: a job key's id token.
func lastToken(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '.' {
			return key[i+1:]
		}
	}
	return key
}

// Release ends the claims of jobs that were not attempted: each job is written back unclaimed, as it was,
// if the claim is still this one. A claim lost meanwhile (its lease ran out) needs nothing.
func (s *Store) Release(jobs []store.Job) {
	if len(jobs) == 0 {
		return
	}
	ctx, cancel := s.request()
	defer cancel()
	for _, j := range jobs {
		ref, ok := j.Ref.(claimRef)
		if !ok {
			continue
		}
		if err := s.releaseClaim(ctx, ref); err == nil {
			s.announce(j.Dest, j.Due)
		}
	}
}

// releaseClaim writes the job back unclaimed, as it was claimed, if the claim is still ref's.
func (s *Store) releaseClaim(ctx context.Context, ref claimRef) error {
	s.unhold(ref.key)
	if _, err := s.b.jobs.Update(ctx, ref.key, encode(ref.job), ref.rev); err != nil {
		return fmt.Errorf("jsstore: releasing %s: %w", ref.key, err)
	}
	return nil
}

// hold and unhold keep the set of claims Close releases.
func (s *Store) hold(ref claimRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held != nil {
		s.held[ref.key] = ref
	}
}

func (s *Store) unhold(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.held, key)
}
