package queue

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store/memstore"
)

func TestReconfigureKeepsEveryJobOnce(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		<-time.After(2 * time.Millisecond) // a receiver with some latency
		w.WriteHeader(http.StatusOK)
	})
	q := newTestQueue(t)
	cfg := testConfig()
	cfg.Workers, cfg.PerDestination = 1, 1
	q.Configure(cfg, newFakeEndpoints())
	var msgs []Message
	for range 60 {
		msgs = append(msgs, newMessage(rc.srv.URL))
	}
	enqueue(t, q, msgs...)

	// Change the pool and the schedule while deliveries run.
	steps := []struct {
		after  int // deliveries seen before the change
		change func(*Config)
	}{
		{8, func(c *Config) { c.Workers, c.PerDestination = 8, 8 }},
		{16, func(c *Config) { c.Timeout = 5 * time.Second; c.Retry = []time.Duration{time.Millisecond} }},
		{24, func(c *Config) { c.Workers, c.PerDestination = 2, 1 }},
		{32, func(c *Config) { c.Paused = true }},
		{0, func(c *Config) { c.Paused = false; c.Workers, c.PerDestination = 16, 4 }},
	}
	for _, step := range steps {
		waitFor(t, 10*time.Second, func() bool { return rc.count() >= step.after })
		step.change(&cfg)
		q.Configure(cfg, newFakeEndpoints())
	}
	waitFor(t, 10*time.Second, func() bool { return q.Stats().Delivered == 60 })
	seen := map[string]int{}
	for _, r := range rc.requests() {
		seen[r.header.Get("webhook-id")]++
	}
	if len(seen) != 60 {
		t.Errorf("%d distinct messages delivered, want 60", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
}

func TestClosedQueueRefusesEnqueue(t *testing.T) {
	q := New(memstore.New(), nil)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := q.Enqueue(context.Background(), []Message{newMessage("http://127.0.0.1:1/")}); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Close = %v, want ErrClosed", err)
	}
	q.Configure(testConfig(), nil) // must not start anything on a closed queue
}

func TestEnqueueCanceledContext(t *testing.T) {
	q := newTestQueue(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Enqueue(ctx, []Message{newMessage("http://127.0.0.1:1/")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Enqueue(canceled) = %v", err)
	}
	if s := q.Stats(); s.Depth != 0 {
		t.Errorf("depth = %d after a refused enqueue", s.Depth)
	}
}

// While the store cannot take writes, Enqueue and Retry answer ErrDiskFull (the caddymodule then drops
// the event, fail open, or tells the operator) and nothing changes.
func TestNotWritableStoreAnswersErrDiskFull(t *testing.T) {
	q, st := newTestQueueOn(t)
	queued := newMessage("http://127.0.0.1:1/")
	cfg := testConfig()
	cfg.Paused = true
	q.Configure(cfg, newFakeEndpoints())
	enqueue(t, q, queued)
	st.SetWritable(false)
	if _, err := q.Enqueue(context.Background(), []Message{newMessage("http://127.0.0.1:1/")}); !errors.Is(err, ErrDiskFull) {
		t.Errorf("Enqueue on a full store = %v, want ErrDiskFull", err)
	}
	if err := q.Retry(queued.ID); !errors.Is(err, ErrDiskFull) {
		t.Errorf("Retry on a full store = %v, want ErrDiskFull", err)
	}
	if s := q.Stats(); s.Depth != 1 {
		t.Errorf("depth %d after refused writes, want 1", s.Depth)
	}
}

// maintainedStore is a memory store that keeps house on a timer, recording the interval it is given.
type maintainedStore struct {
	*memstore.Store
	mu       sync.Mutex
	interval time.Duration
}

func (m *maintainedStore) SetMaintenanceInterval(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.interval = d
}

func (m *maintainedStore) lastInterval() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.interval
}

// Configure hands GCInterval to a store that keeps house, defaulting to five minutes, at every call.
func TestConfigurePassesGCIntervalToTheStore(t *testing.T) {
	st := &maintainedStore{Store: memstore.New()}
	q := New(st, nil)
	t.Cleanup(func() { _ = q.Close() })
	q.Configure(testConfig(), nil)
	if got := st.lastInterval(); got != 5*time.Minute {
		t.Errorf("default interval = %v, want 5m", got)
	}
	cfg := testConfig()
	cfg.GCInterval = 40 * time.Second
	q.Configure(cfg, nil)
	if got := st.lastInterval(); got != 40*time.Second {
		t.Errorf("interval after reload = %v, want 40s", got)
	}
}

// Events past the daily limit are counted as limited, in the result and in Stats, and never delivered.
func TestEnqueueCountsLimitedEvents(t *testing.T) {
	rc := newReceiver(t, statuses(200))
	q := newTestQueue(t)
	cfg := testConfig()
	cfg.DailyLimit, cfg.DailyLimitSet = 2, true
	q.Configure(cfg, newFakeEndpoints())
	msgs := []Message{newMessage(rc.srv.URL), newMessage(rc.srv.URL), newMessage(rc.srv.URL)}
	if res := enqueue(t, q, msgs...); res.Queued != 2 || res.Limited != 1 {
		t.Fatalf("Enqueue = %+v, want 2 queued and 1 limited", res)
	}
	waitFor(t, 5*time.Second, func() bool { return q.Stats().Delivered == 2 })
	if s := q.Stats(); s.Limited != 1 || s.Depth != 0 {
		t.Errorf("stats = %+v, want 1 limited and nothing waiting", s)
	}
	if item := logOf(t, q, msgs[2].ID); item.Status != StatusLimited {
		t.Errorf("third event logged as %s, want limited", item.Status)
	}
	if n := rc.count(); n != 2 {
		t.Errorf("receiver got %d requests, want 2", n)
	}
}
