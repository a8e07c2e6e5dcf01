package jsstore

import (
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sidehook/sidehook/queue/store"
)

// minTTL is the shortest per-message TTL JetStream takes.
const minTTL = time.Second

// Events and logs expire by JetStream's per-message TTL (the Nats-TTL header; the events and logs streams
// allow it), so nothing sweeps them. A write cannot know when its event's final outcome will come, so:
//
//   - an event, and a log written while a job may still be pending, live Policy.PendingSpan (the longest a
//     job stays on its retry schedule) plus KeepLogs: past the final outcome by at least KeepLogs;
//   - a final log (and a limited event) lives KeepLogs from its write.
//
// A log is also left out when read once its Expires has passed, so its expiry is exact to the read even
// though the server drops the message a little later.

// pendingTTL is how long an event and a non-final log are kept.
func pendingTTL(p store.Policy) time.Duration { return ttl(p.PendingSpan + p.KeepLogs) }

// finalTTL is how long a final log is kept.
func finalTTL(p store.Policy) time.Duration { return ttl(p.KeepLogs) }

// ttl is d as a message TTL: none (kept for ever) when the policy sets none.
func ttl(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return max(d, minTTL)
}

// withTTL gives m the TTL d, if any.
func withTTL(m *nats.Msg, d time.Duration) *nats.Msg {
	if d > 0 {
		m.Header.Set(jetstream.MsgTTLHeader, d.String())
	}
	return m
}
