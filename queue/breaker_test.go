package queue

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// A destination that answers nothing is probed with one attempt at a time, with a growing cooldown, instead of
// getting an attempt for every queued job: the jobs behind the breaker spend none of their attempts. When the
// receiver is back, every job is delivered once; another destination is never held up meanwhile.
func TestUnreachableDestinationIsProbedNotHammered(t *testing.T) {
	const events = 200
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every attempt is refused at once

	good := newReceiver(t, statuses(200))
	q := openQueue(t, "")
	cfg := testConfig()
	cfg.Workers, cfg.PerDestination = 16, 8
	cfg.Retry = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond} // retries due at once
	q.Configure(cfg, newFakeEndpoints())
	var msgs []Message
	for range events {
		msgs = append(msgs, newMessage("http://"+addr+"/hook"))
	}
	enqueue(t, q, msgs...)

	cooldown := func() time.Duration {
		q.sched.mu.Lock()
		defer q.sched.mu.Unlock()
		if st := q.sched.dests[addr]; st != nil {
			return st.breaker.cooldown
		}
		return 0
	}
	waitFor(t, 10*time.Second, func() bool { return cooldown() >= 2*time.Second })
	// Cooldowns 0.25, 0.5, 1 and 2 s: the attempts in flight when the breaker opened, and one probe per
	// cooldown since. Without the breaker, every event would have spent its four attempts by now.
	if s := q.Stats(); s.Failed > uint64(cfg.PerDestination)+4 || s.Dead != 0 || s.Depth+s.InFlight != events {
		t.Fatalf("the unreachable destination got %d failed attempts for %d events; stats %+v", s.Failed, events, s)
	}

	// Another destination is served at once meanwhile.
	other := newMessage(good.srv.URL)
	enqueue(t, q, other)
	waitFor(t, 5*time.Second, statusIs(t, q, other.ID, StatusDelivered))

	// The receiver comes back on the same address: the next probe gets an answer and every job is delivered.
	var mu sync.Mutex
	got := map[string]int{}
	back := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		mu.Unlock()
	}))
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("address %s taken meanwhile: %v", addr, err)
	}
	back.Listener.Close()
	back.Listener = ln
	back.Start()
	t.Cleanup(back.Close)
	waitFor(t, 20*time.Second, func() bool { return q.Stats().Delivered == events+1 })
	mu.Lock()
	defer mu.Unlock()
	for _, m := range msgs {
		if got[m.ID] != 1 {
			t.Errorf("%s delivered %d times", m.ID, got[m.ID])
		}
	}
	if s := q.Stats(); s.Dead != 0 || s.Depth != 0 {
		t.Errorf("stats after the receiver came back: %+v", s)
	}
	if c := cooldown(); c != 0 {
		t.Errorf("breaker still open (cooldown %s) after deliveries succeeded", c)
	}
}

// A job claimed ahead while its destination's breaker was closed, whose record the pass finishes reading after
// the breaker opened, is given back rather than left in the ready list, where nothing would take it while the
// breaker is open and it would be stranded behind the cursor.
func TestJobClaimedAheadIsGivenBackWhenTheBreakerOpens(t *testing.T) {
	q := openQueue(t, "")
	cfg := testConfig()
	cfg.Paused = true // the scheduler's own passes stay out of the way
	q.Configure(cfg, newFakeEndpoints())
	s := q.sched
	const dest = "127.0.0.1:9"
	j := job{id: NewMessageID(), due: time.Now().UnixNano(), dest: dest}
	s.note(dest, j.due)
	s.mu.Lock()
	s.dests[dest].cursor = jobKey(dest, j.due+1, "z") // a pass has moved on past the job
	s.mu.Unlock()
	if r := s.claimAhead(s.q.config(), j); r != claimOK {
		t.Fatalf("claimAhead = %v", r)
	}
	s.observe(dest, attemptResult{requested: true, reason: "connection refused"})
	s.pushReady(j, record{ID: j.id})

	s.mu.Lock()
	st := s.dests[dest]
	_, claimed := s.claimed[j.id]
	ready, readyCount, cursor, low := len(st.ready), s.readyCount, st.cursor, st.low
	s.mu.Unlock()
	if ready != 0 || readyCount != 0 || claimed {
		t.Errorf("after the breaker opened: %d ready, readyCount %d, still claimed %v; want the job given back", ready, readyCount, claimed)
	}
	if want := seekKey(dest, j.due); string(cursor) != string(want) || string(low) != string(want) {
		t.Errorf("cursor %x, low %x; want both back at the job, %x", cursor, low, want)
	}
}
