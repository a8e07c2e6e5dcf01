package jsstore

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// errUnreachable is Enqueue's answer while JetStream cannot take a write that the store can foresee failing.
var errUnreachable = errors.New("jsstore: NATS JetStream is unreachable")

// Graces before a write is refused without being tried. A matched call waits on Enqueue before its client
// gets the answer, and sidehook fails open: once NATS is known to be away, the API must not wait
// RequestTimeout per call for a failure the store can see coming. But a cluster that lost one node heals by
// itself, and its writes succeed again once it has: refusing them meanwhile would drop events that a short
// wait stores.
const (
	// reconnectGrace: a client whose server died reconnects to another node within a few hundred
	// milliseconds (it retries every 250 ms), and buffers what is published meanwhile.
	reconnectGrace = time.Second
	// electionGrace: a stream whose leader was lost elects another within seconds (4-9 s measured on these
	// machines); Enqueue rides that out, retrying within RequestTimeout. A stream without a leader for longer
	// has lost its quorum.
	electionGrace = 15 * time.Second
)

// reachable fails fast when the store already knows that JetStream cannot take a write now: the connection
// has been down for longer than reconnectGrace, or the jobs stream has had no leader (Writable's looks) for
// longer than electionGrace. It never waits for Writable's own look (TryLock): when one is under way the
// write is simply tried.
func (s *Store) reachable() error {
	if s.nc.Status() != nats.CONNECTED {
		if downFor(&s.downSince) >= reconnectGrace {
			return errUnreachable
		}
		return nil
	}
	s.downSince.Store(0)
	if !s.health.mu.TryLock() {
		return nil
	}
	leaderless := !s.health.checked.IsZero() && time.Since(s.health.checked) < writableRecheck && !s.health.ok
	s.health.mu.Unlock()
	if !leaderless {
		s.leaderlessSince.Store(0)
		return nil
	}
	if downFor(&s.leaderlessSince) >= electionGrace {
		return errUnreachable
	}
	return nil
}

// downFor is how long ago since was first set by a caller that found the condition (0 the first time, which
// sets it to now).
func downFor(since *atomic.Int64) time.Duration {
	now := time.Now().UnixNano()
	if since.CompareAndSwap(0, now) {
		return 0
	}
	return time.Duration(now - since.Load())
}
