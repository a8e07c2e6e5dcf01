package natskv

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sidehook/sidehook/internal/natsconn"
)

// openTest opens a storage on urls with replicas and lockTTL, logging into the returned observer; it is
// closed when the test ends.
func openTest(t *testing.T, urls []string, replicas int, lockTTL time.Duration, extra ...nats.Option) (*Storage, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	s, err := open(Config{Config: natsconn.Config{URLs: urls}, Replicas: replicas, LockTTL: lockTTL,
		RequestTimeout: 3 * time.Second, Logger: zap.New(core)}, extra...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		if t.Failed() {
			for _, e := range logs.All() {
				t.Logf("log: %s %s %s %v", e.Time.Format("15:04:05.000"), e.LoggerName, e.Message, e.ContextMap())
			}
		}
	})
	return s, logs
}

// crash stops s as a killed process stops: no lock released, no renewal any more, the connection gone.
func crash(s *Storage) {
	s.mu.Lock()
	s.closed, s.locks = true, nil
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.nc.Close()
}

// waitFor polls cond until it holds or the deadline passes; tests wait on conditions, never on fixed sleeps.
func waitFor(t *testing.T, deadline time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v", what, deadline)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// signalled waits up to deadline for a value on ch.
func signalled(t *testing.T, ch <-chan struct{}, deadline time.Duration, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: watch channel closed", what)
		}
	case <-time.After(deadline):
		t.Fatalf("%s: no signal within %v", what, deadline)
	}
}
