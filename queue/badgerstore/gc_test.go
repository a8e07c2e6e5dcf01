package badgerstore

import (
	"testing"
	"time"
)

// lastFlatten is when the GC pass last compacted the (drained) store, unix ns; 0 until a pass ran.
func lastFlatten(s *Store) int64 {
	s.compact.mu.Lock()
	defer s.compact.mu.Unlock()
	return s.compact.at
}

// SetMaintenanceInterval sets how often the GC pass runs, and it applies to a store that is
// already open: a pass comes within the new interval instead of after the five-minute default the
// loop started with. The first pass on an open store always compacts it, which the test watches.
func TestMaintenanceRunsAtTheSetInterval(t *testing.T) {
	s := openStore(t, "")
	if at := lastFlatten(s); at != 0 {
		t.Fatalf("a GC pass ran right after Open (at %d), before any interval elapsed", at)
	}
	s.SetMaintenanceInterval(20 * time.Millisecond)
	waitFor(t, 10*time.Second, func() bool { return lastFlatten(s) != 0 })
}

// A zero interval restores the default instead of making the loop spin.
func TestMaintenanceIntervalDefaultsToFiveMinutes(t *testing.T) {
	s := openStore(t, "")
	s.SetMaintenanceInterval(time.Second)
	s.SetMaintenanceInterval(0)
	if got := time.Duration(s.maintenance.Load()); got != 5*time.Minute {
		t.Errorf("interval after SetMaintenanceInterval(0) = %v, want 5m", got)
	}
}
