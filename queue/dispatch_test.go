package queue

import (
	"context"
	"net/http"
	"sync"
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

// Events enqueued by many callers at once while their destination fails them are all attempted once, whatever
// the order of their announcements and the scheduler's Claims (TestAnAnnouncementDuringAClaimIsNeverLost tests
// the rule behind it alone). The receiver answers 500: a destination that does not answer at all is held back by
// its breaker instead.
func TestConcurrentEnqueuesToAFailingDestinationAreAllAttempted(t *testing.T) {
	const events, callers = 2000, 8
	rc := newReceiver(t, statuses(500))
	q := newTestQueue(t)
	cfg := testConfig()
	cfg.Workers, cfg.PerDestination = 16, 16
	cfg.DailyLimit, cfg.DailyLimitSet = 0, true
	cfg.Retry = []time.Duration{time.Hour}
	q.Configure(cfg, newFakeEndpoints())
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < events; i += callers {
				if _, err := q.Enqueue(context.Background(), []Message{newMessage(rc.srv.URL)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, 20*time.Second, func() bool { return q.Stats().Failed >= events })
	if s := q.Stats(); s.Failed != events || s.Depth != events {
		t.Errorf("want each of %d events attempted once and waiting for its retry, stats %+v", events, s)
	}
}
