package jsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sidehook/sidehook/queue/store"
)

// Enqueue stores events durably: it returns only once JetStream acknowledged every write, which on a
// replicated stream means a quorum of nodes stored it. Each event is counted against its client's and user's
// daily limit first; past it, the event is stored as a final "limited" log item and gets no job.
//
// The writes go in two waves: the events and their logs, then the jobs, so that a job another process
// claims always finds its event. Every write carries the event id as Nats-Msg-Id, so a caller retrying an
// Enqueue whose answer it lost stores nothing twice (within JetStream's two-minute duplicate window).
func (s *Store) Enqueue(ctx context.Context, events []store.Event, now time.Time, p store.Policy) (store.EnqueueResult, error) {
	if err := ctx.Err(); err != nil {
		return store.EnqueueResult{}, err
	}
	if s.isClosed() {
		return store.EnqueueResult{}, store.ErrClosed
	}
	if err := s.reachable(); err != nil {
		return store.EnqueueResult{}, err
	}
	// The caller's deadline, when it has one, bounds the whole Enqueue rather than RequestTimeout: a stream
	// that lost its leader elects another in 4-9 s, and a caller that can wait that long (the caddymodule
	// gives a matched call 10 s) gets its events stored instead of dropped.
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.RequestTimeout)
		defer cancel()
	}
	res := store.EnqueueResult{Queued: make([]bool, len(events))}
	taken, err := s.count(ctx, events, now, p, res.Queued)
	if err != nil {
		return store.EnqueueResult{}, err
	}
	nowNs := now.UnixNano()
	var first, jobs []*nats.Msg
	for i, ev := range events {
		keep := pendingTTL(p)
		if !res.Queued[i] {
			keep = finalTTL(p)
		}
		first = append(first, withTTL(s.msg(s.b.events, token(ev.ID), ev.ID, encode(ev)), keep))
		st := newLogState(ev)
		if res.Queued[i] {
			st.Status, st.NextAttempt = store.StatusPending, nowNs
			dest := store.Destination(ev.URL)
			jobs = append(jobs, s.msg(s.b.jobs, jobKey(dest, ev.ID), ev.ID, encode(jobEntry{Dest: dest, Due: nowNs})))
		} else {
			st.Status, st.Processed = store.StatusLimited, nowNs
			st.Error = fmt.Sprintf("daily limit of %d reached", p.DailyLimit)
			st.Expires = time.Now().Add(p.KeepLogs).UnixNano()
		}
		first = append(first, withTTL(s.msg(s.b.logs, logKey(ev.ClientID, ev.ID), ev.ID, encode(st)), keep))
	}
	if err := s.publishAll(ctx, first); err != nil {
		return store.EnqueueResult{}, errors.Join(err, s.giveBackAll(taken))
	}
	if err := s.publishAll(ctx, jobs); err != nil {
		// Jobs acknowledged before the failure stay queued and uncounted, as the contract allows.
		s.announceEnqueued(events, res.Queued, nowNs)
		return store.EnqueueResult{}, errors.Join(err, s.giveBackAll(taken))
	}
	s.announceEnqueued(events, res.Queued, nowNs)
	return res, nil
}

// count reserves each (client, user)'s share of the daily limit and marks in queued the events that fit,
// in order; it returns what it took, by counter key, so that a failed write can give it back.
func (s *Store) count(ctx context.Context, events []store.Event, now time.Time, p store.Policy, queued []bool) (map[string]int, error) {
	if p.DailyLimit <= 0 {
		for i := range queued {
			queued[i] = true
		}
		return nil, nil
	}
	day := now.UTC().Format("2006-01-02")
	wanted := map[string]int{}
	var order []string
	for _, ev := range events {
		key := limitKey(day, ev.ClientID, ev.UserID)
		if wanted[key] == 0 {
			order = append(order, key)
		}
		wanted[key]++
	}
	taken := map[string]int{}
	for _, key := range order {
		n, err := s.reserve(ctx, key, wanted[key], p.DailyLimit)
		if err != nil {
			return nil, errors.Join(err, s.giveBackAll(taken))
		}
		taken[key] = n
	}
	left := make(map[string]int, len(taken))
	for key, n := range taken {
		left[key] = n
	}
	for i, ev := range events {
		key := limitKey(day, ev.ClientID, ev.UserID)
		if left[key] > 0 {
			left[key]--
			queued[i] = true
		}
	}
	return taken, nil
}

// giveBackAll returns what count took, with a context of its own: the Enqueue's may be what ran out.
func (s *Store) giveBackAll(taken map[string]int) error {
	ctx, cancel := s.request()
	defer cancel()
	var errs []error
	for key, n := range taken {
		if n > 0 {
			errs = append(errs, s.giveBack(ctx, key, n))
		}
	}
	return errors.Join(errs...)
}

// msg is a write of value to key in bucket, deduplicated by id.
func (s *Store) msg(bucket jetstream.KeyValue, key, id string, value []byte) *nats.Msg {
	m := nats.NewMsg(subject(bucket, key))
	m.Data = value
	m.Header.Set(jetstream.MsgIDHeader, id)
	return m
}

// publishAll publishes msgs at once and waits until JetStream acknowledged every one. A message that fails
// (no stream leader while a cluster elects one after a node loss, a lost acknowledgement) is published again
// after a pause, until ctx ends: each carries its own deduplication id or is a whole value, so publishing it
// twice stores it once.
func (s *Store) publishAll(ctx context.Context, msgs []*nats.Msg) error {
	pause := republishPause
	for {
		failed, err := s.publishOnce(ctx, msgs)
		if len(failed) == 0 {
			return nil
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return fmt.Errorf("jsstore: JetStream did not store %d messages in time: %w (last error: %w)",
				len(failed), ctx.Err(), err)
		}
		msgs, pause = failed, min(2*pause, maxRepublishPause)
	}
}

const (
	republishPause    = 50 * time.Millisecond
	maxRepublishPause = time.Second
)

// publishOnce publishes msgs at once and returns those JetStream did not acknowledge, with the last error.
func (s *Store) publishOnce(ctx context.Context, msgs []*nats.Msg) ([]*nats.Msg, error) {
	var failed []*nats.Msg
	var last error
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		f, err := s.js.PublishMsgAsync(m)
		if err != nil {
			failed, last = append(failed, m), fmt.Errorf("publishing %s: %w", m.Subject, err)
			continue
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			failed, last = append(failed, f.Msg()), fmt.Errorf("storing %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			failed, last = append(failed, f.Msg()), ctx.Err()
		}
	}
	return failed, last
}

// announceEnqueued tells the watch of every destination that got a job.
func (s *Store) announceEnqueued(events []store.Event, queued []bool, due int64) {
	dests := map[string]bool{}
	for i, ev := range events {
		if queued[i] {
			dests[store.Destination(ev.URL)] = true
		}
	}
	for dest := range dests {
		s.announce(dest, due)
	}
}
