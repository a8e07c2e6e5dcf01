package queue

import (
	"bytes"
	"net/http"
	"testing"
	"time"
)

// Jobs claimed ahead of a free slot are given back when delivery is paused, and each is delivered
// exactly once after delivery resumes.
func TestPauseGivesBackJobsClaimedAhead(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	})
	q := newTestQueue(t)
	cfg := testConfig()
	cfg.Workers, cfg.PerDestination = 2, 2
	q.Configure(cfg, newFakeEndpoints())
	var msgs []Message
	for range 20 {
		msgs = append(msgs, newMessage(rc.srv.URL))
	}
	enqueue(t, q, msgs...)
	waitFor(t, 5*time.Second, func() bool { return rc.count() >= 2 })
	cfg.Paused = true
	q.Configure(cfg, newFakeEndpoints())
	waitFor(t, 5*time.Second, func() bool { return q.Stats().InFlight == 0 })
	paused := rc.count()
	time.Sleep(100 * time.Millisecond)
	if n := rc.count(); n != paused {
		t.Fatalf("%d requests while paused", n-paused)
	}
	cfg.Paused = false
	q.Configure(cfg, newFakeEndpoints())
	waitFor(t, 10*time.Second, func() bool { return q.Stats().Delivered == 20 })
	seen := map[string]int{}
	for _, r := range rc.requests() {
		seen[r.header.Get("webhook-id")]++
	}
	for _, m := range msgs {
		if seen[m.ID] != 1 {
			t.Errorf("%s delivered %d times, want once", m.ID, seen[m.ID])
		}
	}
	if s := q.Stats(); s.Depth != 0 || s.InFlight != 0 {
		t.Errorf("stats after the drain: %+v", s)
	}
}

// Bodies past 64 KiB, claimed ahead and waiting for a slot, reach the receiver whole, and the log keeps them.
func TestBigBodiesAreDeliveredWhole(t *testing.T) {
	rc := newReceiver(t, statuses(200))
	q := newTestQueue(t)
	cfg := testConfig()
	cfg.Workers, cfg.PerDestination = 1, 1
	cfg.DailyLimit, cfg.DailyLimitSet = 0, true
	q.Configure(cfg, newFakeEndpoints())
	var msgs []Message
	for i := range 6 {
		m := newMessage(rc.srv.URL)
		m.Body = bytes.Repeat([]byte{'a' + byte(i)}, 64<<10+1000)
		msgs = append(msgs, m)
	}
	enqueue(t, q, msgs...)
	waitFor(t, 10*time.Second, func() bool { return q.Stats().Delivered == uint64(len(msgs)) })
	got := map[string][]byte{}
	for _, r := range rc.requests() {
		got[r.header.Get("webhook-id")] = r.body
	}
	for _, m := range msgs {
		if !bytes.Equal(got[m.ID], m.Body) {
			t.Errorf("%s: receiver got %d bytes, want the %d-byte body", m.ID, len(got[m.ID]), len(m.Body))
		}
		if item := logOf(t, q, m.ID); item.RequestData != string(m.Body) || item.Status != StatusDelivered {
			t.Errorf("%s: log has %d bytes, status %s", m.ID, len(item.RequestData), item.Status)
		}
	}
}
