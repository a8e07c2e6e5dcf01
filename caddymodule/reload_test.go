package caddymodule_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A `caddy reload` while a backlog is being delivered: the new config's delivery settings take effect on the
// same open queue (its counters carry on, so it was not reopened), and the reload itself neither loses nor
// repeats a delivery.
func TestReloadDuringDeliveryKeepsTheQueueAndAppliesNewSettings(t *testing.T) {
	const events = 40
	var (
		mu       sync.Mutex
		perID    = map[string]int{}
		cur      atomic.Int32
		maxBy    [2]atomic.Int32 // highest concurrency seen under config A, then B
		reloaded atomic.Int32    // 0 before the reload, 1 after
	)
	hk := newHook(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		defer cur.Add(-1)
		phase := reloaded.Load()
		for old := maxBy[phase].Load(); n > old && !maxBy[phase].CompareAndSwap(old, n); old = maxBy[phase].Load() {
		}
		time.Sleep(20 * time.Millisecond) // a slow receiver, not synchronisation
		mu.Lock()
		perID[r.Header.Get("webhook-id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	config := func(workers int) string {
		return fmt.Sprintf(`
		subscribe echo %s/hook {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
			workers %d
			per_destination %d
		}`, hk.srv.URL, workers, workers)
	}
	h := newHarness(t, harnessOptions{})
	h.load(config(1))
	for i := range events {
		if status, out := h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"echo","params":[%d],"id":1}`, i)); status != http.StatusOK {
			t.Fatalf("call %d: %d %s", i, status, out)
		}
	}
	waitFor(t, 15*time.Second, func() bool { return h.stats().Delivered >= 5 }, "a few deliveries under config A")
	before := h.stats()
	reloaded.Store(1) // from here on, concurrency is config B's (the reload applies it before load returns)
	h.load(config(4))
	after := h.stats()
	h.settled(events)

	var queues struct{ Queues []struct{ Dir string } }
	adminGet(t, "/sidehook/stats", &queues)
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, n := range perID {
		dups += n - 1
	}
	t.Logf("reload after %d delivered (stats %+v, right after %+v); max concurrency %d before, %d after; %d distinct delivered, %d duplicates",
		before.Delivered, before, after, maxBy[0].Load(), maxBy[1].Load(), len(perID), dups)
	if len(perID) != events || dups != 0 {
		t.Errorf("want %d events delivered exactly once, got %d distinct and %d duplicates", events, len(perID), dups)
	}
	if after.Delivered < before.Delivered {
		t.Errorf("the delivered counter went back from %d to %d: the queue was reopened", before.Delivered, after.Delivered)
	}
	if len(queues.Queues) != 1 {
		t.Errorf("%d open queues after the reload, want 1", len(queues.Queues))
	}
	if maxBy[0].Load() != 1 {
		t.Errorf("config A (workers 1) ran %d deliveries at once", maxBy[0].Load())
	}
	if maxBy[1].Load() < 2 {
		t.Errorf("config B (workers 4) never ran more than %d deliveries at once: the new settings did not apply", maxBy[1].Load())
	}
}
