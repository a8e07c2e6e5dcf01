package jsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sidehook/sidehook/queue/store"
)

// retryRounds bounds Retry's loop: a round ends by a write landing, a claim being waited for (at most its
// lease) or another process's write winning a compare-and-set, which does not repeat for long.
const retryRounds = 1000

// Retry makes the job of id due at now, waiting first for a claim on it to end.
//
// It writes the job before the log: a pending job is moved to now (its key compared and set, so a claim
// taken meanwhile makes it look again), a final item gets a new job (created only if none exists). Then the
// event is written again with a fresh expiry (a reopened item lives on past its first schedule), and the log
// shows the job due at now, reopened if it was final; that write is compared and set too, so an outcome
// recorded between the writes is never overwritten by the stale state, and the round starts again. A crash
// between the writes leaves a due job under a log that still says final: the job is attempted, and its
// outcome rewrites the log.
func (s *Store) Retry(id string, now time.Time, p store.Policy) (bool, error) {
	for range retryRounds {
		if s.isClosed() {
			return false, store.ErrClosed
		}
		reopened, done, err := s.retryRound(id, now.UnixNano(), p)
		if err != nil || done {
			return reopened, err
		}
	}
	return false, fmt.Errorf("jsstore: retry of %s: the job kept changing under %d rounds", id, retryRounds)
}

// retryRound is one look at id's log and job; done is false when the round must be tried again.
func (s *Store) retryRound(id string, now int64, p store.Policy) (reopened, done bool, err error) {
	ctx, cancel := s.request()
	defer cancel()
	stored, err := s.readLog(ctx, id)
	if err != nil {
		return false, true, err
	}
	if stored.state.Status == store.StatusLimited {
		return false, true, store.ErrNotRetryable
	}
	dest := store.Destination(stored.state.URL)
	if again, err := s.moveJobToNow(ctx, stored, dest, now); err != nil || again {
		return false, err != nil, err
	}
	st := stored.state
	reopened = store.IsFinal(st.Status)
	if reopened {
		st.Status, st.Processed, st.Expires = store.StatusRetrying, 0, 0
	}
	st.NextAttempt = now
	event := withTTL(nats.NewMsg(subject(s.b.events, token(id))), pendingTTL(p))
	event.Data = encode(stored.event)
	if _, err := s.js.PublishMsg(ctx, event); err != nil {
		return false, true, fmt.Errorf("jsstore: retry of %s: renewing the event: %w", id, err)
	}
	log := withTTL(nats.NewMsg(subject(s.b.logs, stored.key)), pendingTTL(p))
	log.Data = encode(st)
	if _, err := s.js.PublishMsg(ctx, log, jetstream.WithExpectLastSequencePerSubject(stored.rev)); isWrongLastSequence(err) {
		return false, false, nil
	} else if err != nil {
		return false, true, fmt.Errorf("jsstore: retry of %s: %w", id, err)
	}
	s.announce(dest, now)
	return reopened, true, nil
}

// moveJobToNow makes the job of stored's event due at now: an unclaimed one is moved, a missing one (the
// item is final) is created with the attempts the log counts. again is true when the round must start over:
// another write won the job's key, or a claim on it was waited for.
func (s *Store) moveJobToNow(ctx context.Context, stored storedLog, dest string, now int64) (again bool, err error) {
	key := jobKey(dest, stored.event.ID)
	entry, err := s.b.jobs.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		j := jobEntry{Dest: dest, Due: now, Attempts: stored.state.Attempts}
		if _, err := s.b.jobs.Create(ctx, key, encode(j)); errors.Is(err, jetstream.ErrKeyExists) {
			return true, nil
		} else if err != nil {
			return false, fmt.Errorf("jsstore: retry of %s: %w", stored.event.ID, err)
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("jsstore: retry of %s: %w", stored.event.ID, err)
	}
	var j jobEntry
	if err := json.Unmarshal(entry.Value(), &j); err != nil {
		return false, fmt.Errorf("jsstore: job %s: %w", key, err)
	}
	if j.claimedAt(time.Now().UnixNano()) {
		s.waitForClaim(key, entry.Revision(), stored, j.LeaseUntil)
		return true, nil
	}
	j = j.unclaimed()
	j.Due = now
	if _, err := s.b.jobs.Update(ctx, key, encode(j), entry.Revision()); errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true, nil
	} else if err != nil {
		return false, fmt.Errorf("jsstore: retry of %s: %w", stored.event.ID, err)
	}
	return false, nil
}

// isWrongLastSequence reports whether err is JetStream refusing a write whose expected last sequence of its
// subject was not the current one (a compare-and-set lost); a replicated stream answers with its own code.
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// storedLog is an event with its log state, as readLog found them.
type storedLog struct {
	event store.Event
	state logState
	key   string // in the logs bucket
	rev   uint64 // of the log state
}

// readLog reads id's event and log state: ErrNotFound when there is none, or its log expired.
func (s *Store) readLog(ctx context.Context, id string) (storedLog, error) {
	ev, found, err := s.readEvent(ctx, token(id))
	if err != nil {
		return storedLog{}, err
	}
	if !found {
		return storedLog{}, store.ErrNotFound
	}
	key := logKey(ev.ClientID, id)
	e, err := s.b.logs.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return storedLog{}, store.ErrNotFound
	}
	if err != nil {
		return storedLog{}, fmt.Errorf("jsstore: reading the log of %s: %w", id, err)
	}
	var st logState
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return storedLog{}, fmt.Errorf("jsstore: log of %s: %w", id, err)
	}
	if st.expired() {
		return storedLog{}, store.ErrNotFound
	}
	return storedLog{event: ev, state: st, key: key, rev: e.Revision()}, nil
}

// waitForClaim waits until the claimed job at key changes, its log changes (a Record writes the log first
// and deletes a final job without a trace a watch would see), the lease runs out or RetryPoll passes,
// whichever is first. The watches start before the job and log are looked at again, so a change between
// the caller's read and the watches is not missed.
func (s *Store) waitForClaim(key string, jobRev uint64, stored storedLog, leaseUntil int64) {
	wait := min(time.Until(time.Unix(0, leaseUntil)), s.cfg.RetryPoll)
	ctx, cancel := context.WithTimeout(s.ctx, max(wait, time.Millisecond))
	defer cancel()
	changed := make(chan struct{}, 2)
	for _, w := range []struct {
		bucket jetstream.KeyValue
		key    string
	}{{s.b.jobs, key}, {s.b.logs, stored.key}} {
		watcher, err := w.bucket.Watch(ctx, w.key, jetstream.UpdatesOnly())
		if err != nil {
			continue // the timeout still ends the wait
		}
		defer func() { _ = watcher.Stop() }()
		go func() {
			select {
			case <-watcher.Updates():
				changed <- struct{}{}
			case <-ctx.Done():
			}
		}()
	}
	if job, err := s.b.jobs.Get(ctx, key); err != nil || job.Revision() != jobRev {
		return
	}
	if log, err := s.b.logs.Get(ctx, stored.key); err != nil || log.Revision() != stored.rev {
		return
	}
	select {
	case <-changed:
	case <-ctx.Done():
	}
}
