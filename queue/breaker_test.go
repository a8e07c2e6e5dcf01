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
	q := newTestQueue(t)
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

// Jobs claimed ahead for a destination whose breaker then opens are given back to the store at once: nothing
// would take them while the breaker is open.
func TestJobClaimedAheadIsGivenBackWhenTheBreakerOpens(t *testing.T) {
	q, st := newTestQueueOn(t) // never configured: no pass runs beside the test
	s := q.sched
	const dest = "127.0.0.1:9"
	enqueue(t, q, newMessage("http://"+dest+"/hook"), newMessage("http://"+dest+"/hook"))
	now := time.Now().UnixNano()
	jobs, _, err := st.Claim(dest, now, 2)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("Claim = %d jobs, %v", len(jobs), err)
	}
	s.mu.Lock()
	s.destination(dest).ahead = jobs
	s.ahead = len(jobs)
	s.mu.Unlock()

	s.observe(dest, attemptResult{requested: true, reason: "connection refused"})

	s.mu.Lock()
	ahead, total, open := len(s.dests[dest].ahead), s.ahead, s.dests[dest].breaker.open()
	s.mu.Unlock()
	if ahead != 0 || total != 0 || !open {
		t.Errorf("after the breaker opened: %d ahead (%d in all), breaker open %v; want the jobs given back", ahead, total, open)
	}
	if again, _, err := st.Claim(dest, now, 2); err != nil || len(again) != 2 {
		t.Errorf("Claim after the release = %d jobs, %v; want both due again", len(again), err)
	}
}
