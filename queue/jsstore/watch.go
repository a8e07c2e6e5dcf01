package jsstore

import (
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// rewatchWait is how long the watch waits before it watches the jobs bucket again after losing it (NATS
// unreachable long enough for the ordered consumer to give up).
const rewatchWait = time.Second

// Watch sets the function told of due jobs, tells it at once of every destination with unclaimed jobs, and
// from then on follows the jobs bucket: every job written unclaimed (enqueued, released, retried, moved to
// its next attempt by this process or any other) is announced at its due time. A claim ends without a write
// when its lease runs out, so the watch also keeps a timer for the earliest lease it saw and announces a job
// whose claim ran out (its revision unchanged since). The store's own writes are announced by the writer as
// well, so that the caller hears of them before the write returns.
func (s *Store) Watch(due func(dest string, due int64)) {
	s.mu.Lock()
	s.watch = due
	s.mu.Unlock()
	w, initial, err := s.startWatch()
	for dest, at := range initial {
		s.announce(dest, at)
	}
	s.following.Go(func() { s.follow(w, err == nil) })
}

// announce calls the Watch function, if one is set.
func (s *Store) announce(dest string, due int64) {
	s.mu.Lock()
	watch := s.watch
	s.mu.Unlock()
	if watch != nil {
		watch(dest, due)
	}
}

// startWatch watches the jobs bucket and reads the values present: the earliest unclaimed due time of each
// destination. The leases of claimed jobs go to the lease timer. On an error no watch is left running.
func (s *Store) startWatch() (jetstream.KeyWatcher, map[string]int64, error) {
	w, err := s.b.jobs.WatchAll(s.ctx)
	if err != nil {
		return nil, nil, err
	}
	initial := map[string]int64{}
	ctx, cancel := s.request()
	defer cancel()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return w, initial, nil
			}
			if e == nil {
				return w, initial, nil
			}
			if dest, at, ok := s.dueOf(e); ok && (initial[dest] == 0 || at < initial[dest]) {
				initial[dest] = at
			}
		case <-ctx.Done():
			_ = w.Stop()
			return nil, initial, ctx.Err()
		}
	}
}

// dueOf reads a job entry: when it is unclaimed, its destination and due time; when it is claimed, it notes
// the lease for the lease timer.
func (s *Store) dueOf(e jetstream.KeyValueEntry) (string, int64, bool) {
	var j jobEntry
	if e.Operation() != jetstream.KeyValuePut || json.Unmarshal(e.Value(), &j) != nil {
		return "", 0, false
	}
	if j.claimedAt(time.Now().UnixNano()) {
		s.leases.add(lease{key: e.Key(), rev: e.Revision(), until: j.LeaseUntil, dest: j.Dest, due: j.Due})
		return "", 0, false
	}
	s.leases.remove(e.Key()) // a claim of this key, if the watch saw one, ended by this write
	return j.Dest, j.Due, true
}

// follow announces what the watch w delivers until Close, watching again when w ends or could not start,
// and announces claims whose lease ran out.
func (s *Store) follow(w jetstream.KeyWatcher, started bool) {
	for s.ctx.Err() == nil {
		if !started {
			if !s.pause(rewatchWait) {
				return
			}
			var initial map[string]int64
			var err error
			w, initial, err = s.startWatch()
			started = err == nil
			for dest, at := range initial {
				s.announce(dest, at)
			}
			if !started {
				continue
			}
		}
		s.followUpdates(w)
		_ = w.Stop()
		started = false // w ended, or the store closed and the loop ends
	}
}

// followUpdates announces w's updates and the leases that run out until w ends or the store closes.
func (s *Store) followUpdates(w jetstream.KeyWatcher) {
	timer := time.NewTimer(idleWake)
	defer timer.Stop()
	for {
		timer.Reset(s.leases.untilNext())
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue
			}
			if dest, at, ok := s.dueOf(e); ok {
				s.announce(dest, at)
			}
		case <-timer.C:
			s.announceLapsed()
		case <-s.ctx.Done():
			return
		}
	}
}

// announceLapsed announces the jobs whose claim ran out while nobody wrote them: their revision is still the
// claim's.
func (s *Store) announceLapsed() {
	ctx, cancel := s.request()
	defer cancel()
	for _, l := range s.leases.takeLapsed(time.Now().UnixNano()) {
		e, err := s.b.jobs.Get(ctx, l.key)
		if err == nil && e.Revision() == l.rev {
			s.announce(l.dest, l.due)
		}
	}
}

// pause waits d, or less when the store closes: false then.
func (s *Store) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}
