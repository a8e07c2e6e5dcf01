package queue

import (
	"net/http"
	"testing"
	"time"
)

// A destination whose every slot hangs keeps its own jobs waiting and no other's: the scheduler never visits
// it for work while it is saturated, and another destination's jobs are delivered meanwhile.
func TestASaturatedDestinationNeverDelaysAnother(t *testing.T) {
	release := make(chan struct{})
	hanging := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	fast := newReceiver(t, statuses(200))
	q := newTestQueue(t)
	// Close (cleanup) must not wait for the hanging receiver's timeout.
	t.Cleanup(func() { close(release) })
	cfg := testConfig()
	cfg.Workers = 3
	cfg.PerDestination = 1
	cfg.Timeout = 30 * time.Second
	q.Configure(cfg, newFakeEndpoints())

	// The hanging destination's jobs come first in due order.
	var slow []Message
	for range 5 {
		slow = append(slow, newMessage(hanging.srv.URL))
	}
	enqueue(t, q, slow...)
	waitFor(t, 5*time.Second, func() bool { return hanging.count() == 1 })

	var quick []Message
	for range 20 {
		quick = append(quick, newMessage(fast.srv.URL))
	}
	enqueue(t, q, quick...)
	waitFor(t, 10*time.Second, func() bool {
		for _, m := range quick {
			if item, ok, _ := q.Log(m.ID); !ok || item.Status != StatusDelivered {
				return false
			}
		}
		return true
	})
	if n := hanging.count(); n != 1 {
		t.Errorf("hanging destination got %d concurrent requests with PerDestination 1", n)
	}
	s := q.Stats()
	if s.InFlight != 1 || s.Depth != 4 || s.Delivered != 20 {
		t.Errorf("stats = %+v, want 1 in flight, 4 waiting, 20 delivered", s)
	}
}

func TestPausedStoresWithoutDelivering(t *testing.T) {
	rc := newReceiver(t, statuses(200))
	q := newTestQueue(t)
	cfg := testConfig()
	cfg.Paused = true
	q.Configure(cfg, newFakeEndpoints())
	msg := newMessage(rc.srv.URL)
	enqueue(t, q, msg)
	if s := q.Stats(); s.Depth != 1 {
		t.Fatalf("depth = %d, want 1", s.Depth)
	}
	if item := logOf(t, q, msg.ID); item.Status != StatusPending || item.IsProcessed != "0" {
		t.Fatalf("paused item = %+v", item)
	}
	cfg.Paused = false
	q.Configure(cfg, newFakeEndpoints())
	waitFor(t, 5*time.Second, statusIs(t, q, msg.ID, StatusDelivered))
	if n := rc.count(); n != 1 {
		t.Errorf("receiver got %d requests, want 1", n)
	}
}
