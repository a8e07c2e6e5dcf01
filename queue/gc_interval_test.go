package queue

import (
	"testing"
	"time"
)

// lastFlatten is when the GC pass last compacted the (drained) queue, unix ns; 0 until a pass has run.
func lastFlatten(q *Queue) int64 {
	q.compact.mu.Lock()
	defer q.compact.mu.Unlock()
	return q.compact.at
}

// Config.GCInterval sets how often the GC pass runs, and it applies to a queue that is already open: after
// Configure, a pass comes within the configured interval instead of after the five-minute default the loop
// started with. The first pass on an open queue always compacts it, which is what the test watches for.
func TestGCRunsAtTheConfiguredInterval(t *testing.T) {
	q := openQueue(t, "")
	if at := lastFlatten(q); at != 0 {
		t.Fatalf("a GC pass ran right after Open (at %d), before any interval elapsed", at)
	}
	cfg := testConfig()
	cfg.GCInterval = 20 * time.Millisecond
	q.Configure(cfg, newFakeEndpoints(testSecret))
	waitFor(t, 10*time.Second, func() bool { return lastFlatten(q) != 0 })
}

// Without a GCInterval the default applies: Configure fills it in rather than leaving a zero interval, which
// would make the GC loop spin.
func TestGCIntervalDefaultsToFiveMinutes(t *testing.T) {
	if got := (Config{}).withDefaults().GCInterval; got != 5*time.Minute {
		t.Errorf("default GCInterval = %v, want 5m", got)
	}
}
