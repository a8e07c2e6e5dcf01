package jsstore

import (
	"sync"
	"time"
)

// idleWake is how long the watch's lease timer sleeps when it knows of no lease: a bound, not a poll (it
// only looks at the leases it noted, which are none).
const idleWake = time.Hour

// lease is a claim the watch saw, to be announced if it runs out unwritten.
type lease struct {
	key   string
	rev   uint64
	until int64 // unix ns, wall clock
	dest  string
	due   int64
}

// leaseTable holds the leases the watch saw, by job key: a newer claim of a key replaces the older one.
type leaseTable struct {
	mu    sync.Mutex
	byKey map[string]lease
}

func (t *leaseTable) add(l lease) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byKey == nil {
		t.byKey = map[string]lease{}
	}
	t.byKey[l.key] = l
}

func (t *leaseTable) remove(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byKey, key)
}

// untilNext is how long until the earliest lease runs out (a little past it, so that it has).
func (t *leaseTable) untilNext() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var earliest int64
	for _, l := range t.byKey {
		if earliest == 0 || l.until < earliest {
			earliest = l.until
		}
	}
	if earliest == 0 {
		return idleWake
	}
	return max(time.Until(time.Unix(0, earliest))+time.Millisecond, time.Millisecond)
}

// takeLapsed removes and returns the leases run out by wall.
func (t *leaseTable) takeLapsed(wall int64) []lease {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []lease
	for key, l := range t.byKey {
		if l.until <= wall {
			out = append(out, l)
			delete(t.byKey, key)
		}
	}
	return out
}
