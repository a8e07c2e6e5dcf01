package jsstore

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go"
)

// errUnreachable is Enqueue's answer while JetStream cannot take a write that the store can foresee failing.
var errUnreachable = errors.New("jsstore: NATS JetStream is unreachable")

// reachable fails fast when the store already knows that JetStream cannot take a write now: the connection
// is down (the client is reconnecting), or Writable's last look, under writableRecheck old, found the jobs
// stream without a leader. A matched call waits on Enqueue before its client gets the answer, and sidehook
// fails open: the API must not wait RequestTimeout per call for a failure the store can see coming. It never
// waits for Writable's own look (TryLock): when one is under way the write is simply tried.
func (s *Store) reachable() error {
	if s.nc.Status() != nats.CONNECTED {
		return errUnreachable
	}
	if !s.health.mu.TryLock() {
		return nil
	}
	defer s.health.mu.Unlock()
	if !s.health.checked.IsZero() && time.Since(s.health.checked) < writableRecheck && !s.health.ok {
		return errUnreachable
	}
	return nil
}
