package matcher

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

// waitFor polls cond until it holds or the deadline passes; tests wait on conditions, never on
// fixed sleeps.
func waitFor(t *testing.T, deadline time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("condition not met within %v", deadline)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// countingStorage counts the calls a Store makes, to check what polling costs.
type countingStorage struct {
	certmagic.Storage
	lists, loads, stores atomic.Int64
}

var _ certmagic.Storage = (*countingStorage)(nil)

func (c *countingStorage) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	c.lists.Add(1)
	return c.Storage.List(ctx, prefix, recursive)
}

func (c *countingStorage) Load(ctx context.Context, key string) ([]byte, error) {
	c.loads.Add(1)
	return c.Storage.Load(ctx, key)
}

func (c *countingStorage) Store(ctx context.Context, key string, value []byte) error {
	c.stores.Add(1)
	return c.Storage.Store(ctx, key, value)
}

// failingStorage fails every read, as a storage backend that is down.
type failingStorage struct{ certmagic.Storage }

var errStorageDown = errors.New("storage down")

func (failingStorage) Load(context.Context, string) ([]byte, error) { return nil, errStorageDown }

// clock is a settable time source for StoreConfig.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
