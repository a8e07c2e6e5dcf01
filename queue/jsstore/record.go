package jsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sidehook/sidehook/queue/store"
)

// Record writes the outcomes of attempts and ends their claims.
//
// JetStream has no transaction across keys, so Record checks everything that can refuse a batch before it
// writes anything: every outcome's status, and that every claim is still held (the job's revision is still
// the claim's). A batch that fails these checks writes nothing, and its claims are released. Then the logs
// are written (all at once, each acknowledged), and only then the jobs: deleted for a final outcome (by the
// claim's revision), moved to NextDue and unclaimed for a retry.
//
// What a failure between the two leaves: some or all logs show the new outcome while their jobs are still
// there, claimed until their lease runs out. Each such job is then due again and attempted again, and its
// next outcome overwrites the log: the delivery is at least once, never lost. Until then the log of such an
// event shows the outcome of the attempt that was made, which is true, one attempt early.
func (s *Store) Record(outcomes []store.Outcome, p store.Policy) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	ctx, cancel := s.request()
	defer cancel()
	refs, err := checkOutcomes(outcomes)
	if err == nil {
		err = s.checkClaims(ctx, refs)
	}
	var logs []logWrite
	if err == nil {
		logs, err = s.newLogs(ctx, outcomes, p)
	}
	if err == nil {
		err = s.writeLogs(ctx, logs)
	}
	if err != nil {
		s.releaseRefs(ctx, refs)
		return err
	}
	var errs []error
	for i, o := range outcomes {
		if err := s.endJob(ctx, o, refs[i]); err != nil {
			errs = append(errs, err)
			continue
		}
		if o.Status == store.StatusRetrying {
			s.announce(o.Job.Dest, o.NextDue)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("jsstore: outcomes logged, but jobs not moved (they are attempted again after their lease): %w",
			errors.Join(errs...))
	}
	return nil
}

// checkOutcomes returns each outcome's claim, or an error when one has no claim of this store or a status
// no attempt ends with (a mistake of the caller).
func checkOutcomes(outcomes []store.Outcome) ([]claimRef, error) {
	refs := make([]claimRef, len(outcomes))
	var err error
	for i, o := range outcomes {
		ref, ok := o.Job.Ref.(claimRef)
		if ok {
			refs[i] = ref
		} else if err == nil {
			err = fmt.Errorf("jsstore: outcome of %s, which this store did not claim", o.Job.ID)
		}
		switch o.Status {
		case store.StatusDelivered, store.StatusDead, store.StatusGone:
		case store.StatusRetrying:
			if o.NextDue == 0 && err == nil {
				err = fmt.Errorf("jsstore: retrying outcome of %s without a next due time", o.Job.ID)
			}
		default:
			if err == nil {
				err = fmt.Errorf("jsstore: outcome of %s has status %q, which no attempt ends with", o.Job.ID, o.Status)
			}
		}
	}
	return refs, err
}

// checkClaims fails when a claim is no longer held: its lease ran out and another process may have claimed
// and attempted the job since, so this outcome must not overwrite that one's.
func (s *Store) checkClaims(ctx context.Context, refs []claimRef) error {
	for _, ref := range refs {
		e, err := s.b.jobs.Get(ctx, ref.key)
		if err != nil {
			return fmt.Errorf("jsstore: checking the claim of %s: %w", ref.key, err)
		}
		if e.Revision() != ref.rev {
			return fmt.Errorf("jsstore: the claim of %s was lost (its lease ran out)", ref.key)
		}
	}
	return nil
}

// logWrite is the new log state of one outcome.
type logWrite struct {
	key   string
	state logState
	ttl   time.Duration
}

// newLogs reads each outcome's log and applies the outcome to it: an outcome without a request keeps the
// previous attempt's answer, which only the log holds.
func (s *Store) newLogs(ctx context.Context, outcomes []store.Outcome, p store.Policy) ([]logWrite, error) {
	writes := make([]logWrite, len(outcomes))
	for i, o := range outcomes {
		key := logKey(o.Job.ClientID, o.Job.ID)
		e, err := s.b.logs.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("jsstore: reading the log of %s: %w", o.Job.ID, err)
		}
		var st logState
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			return nil, fmt.Errorf("jsstore: log of %s: %w", o.Job.ID, err)
		}
		keep := pendingTTL(p)
		if store.IsFinal(o.Status) {
			keep = finalTTL(p)
		}
		writes[i] = logWrite{key: key, state: applyOutcome(st, o, p), ttl: keep}
	}
	return writes, nil
}

// applyOutcome is st after o.
func applyOutcome(st logState, o store.Outcome, p store.Policy) logState {
	st.Status, st.Attempts, st.Error = o.Status, o.Attempts, o.Error
	if o.Requested {
		st.ResponseCode, st.ResponseData = o.ResponseCode, o.ResponseData
	}
	if o.Status == store.StatusRetrying {
		st.NextAttempt, st.Processed, st.Expires = o.NextDue, 0, 0
		return st
	}
	st.NextAttempt, st.Processed = 0, o.End
	st.Expires = time.Now().Add(p.KeepLogs).UnixNano()
	return st
}

// writeLogs publishes every log at once and waits for each acknowledgement.
func (s *Store) writeLogs(ctx context.Context, writes []logWrite) error {
	msgs := make([]*nats.Msg, len(writes))
	for i, w := range writes {
		msgs[i] = withTTL(nats.NewMsg(subject(s.b.logs, w.key)), w.ttl)
		msgs[i].Data = encode(w.state)
	}
	return s.publishAll(ctx, msgs)
}

// endJob ends o's job and its claim: a final outcome deletes the job's message, a retry rewrites the job
// unclaimed at NextDue. Both name the claim's revision, so neither lands if the claim was lost meanwhile.
func (s *Store) endJob(ctx context.Context, o store.Outcome, ref claimRef) error {
	s.unhold(ref.key)
	if o.Status == store.StatusRetrying {
		j := ref.job
		j.Due, j.Attempts = o.NextDue, o.Attempts
		if _, err := s.b.jobs.Update(ctx, ref.key, encode(j), ref.rev); err != nil {
			return fmt.Errorf("moving %s to its next attempt: %w", ref.key, err)
		}
		return nil
	}
	if err := s.b.jobsStream.DeleteMsg(ctx, ref.rev); err != nil {
		return fmt.Errorf("deleting %s: %w", ref.key, err)
	}
	return nil
}

// releaseRefs releases the claims of a batch that was not recorded: its jobs are due again as they were.
func (s *Store) releaseRefs(ctx context.Context, refs []claimRef) {
	for _, ref := range refs {
		if ref.key != "" && s.releaseClaim(ctx, ref) == nil {
			s.announce(ref.job.Dest, ref.job.Due)
		}
	}
}
