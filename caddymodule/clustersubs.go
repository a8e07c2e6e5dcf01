package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/sidehook/sidehook/internal/natskv"
	"github.com/sidehook/sidehook/matcher"
)

// errSubscriptionsUnreachable answers the subscription storage's calls until NATS has been reached once.
var errSubscriptionsUnreachable = errors.New("cluster subscriptions: NATS not reached yet")

// clusterSubscriptions is cluster mode's subscription storage: the cluster's KV bucket (natskv), watched so
// that a change made on any instance reaches this one's matcher at once. It is opened in the background and
// retried every clusterReopenEvery, so that Caddy starts, and serves the API, while NATS is away: until then
// every call answers errSubscriptionsUnreachable and the matcher serves the static subscriptions
// (matcher.StoreConfig.LoadLater). One lives per cluster in the process, shared by every config that names
// the cluster (subscriptionPools), so that a reload's old requests keep a working storage.
type clusterSubscriptions struct {
	cfg    natskv.Config
	logger *zap.Logger
	kv     atomic.Pointer[natskv.Storage]
	// watchers are the matchers' Changed channels, signalled once when the bucket is reached, then on every
	// change of the version marker. Capacity 1 each: a pending signal stands for any number of changes.
	mu       sync.Mutex
	watchers map[chan struct{}]bool

	cancel context.CancelFunc
	done   chan struct{}
	warned time.Time // when tryOpen last logged a failure (only tryOpen's goroutine touches it)
}

var _ certmagic.Storage = (*clusterSubscriptions)(nil)

// subscriptionPools holds the open cluster subscription storages of the process, keyed as the queues are.
var subscriptionPools = caddy.NewUsagePool()

// useClusterSubscriptions takes a reference to key's storage, opening it when no config holds it. The caller
// gives it back with releaseClusterSubscriptions.
func useClusterSubscriptions(key string, cfg natskv.Config, logger *zap.Logger) (*clusterSubscriptions, error) {
	val, _, err := subscriptionPools.LoadOrNew(key, func() (caddy.Destructor, error) {
		return openClusterSubscriptions(cfg, logger), nil
	})
	if err != nil {
		return nil, err
	}
	return val.(*clusterSubscriptions), nil
}

// releaseClusterSubscriptions gives back a reference; the last one closes the storage.
func releaseClusterSubscriptions(key string) {
	_, _ = subscriptionPools.Delete(key)
}

// openClusterSubscriptions tries the bucket once, so that a config starting while NATS is up loads its
// subscriptions at once (an unreachable NATS costs at most its connect timeout, once per process), then goes
// on in the background: retrying until the bucket opens, and watching it.
func openClusterSubscriptions(cfg natskv.Config, logger *zap.Logger) *clusterSubscriptions {
	ctx, cancel := context.WithCancel(context.Background())
	c := &clusterSubscriptions{cfg: cfg, logger: logger, watchers: map[chan struct{}]bool{}, cancel: cancel, done: make(chan struct{})}
	first := c.tryOpen()
	go c.run(ctx, first)
	return c
}

// tryOpen opens the bucket once; false when NATS could not be reached, which is logged at the first failure
// and then at most once per dropWarnEvery.
func (c *clusterSubscriptions) tryOpen() bool {
	kv, err := natskv.Open(c.cfg)
	if err != nil {
		if time.Since(c.warned) >= dropWarnEvery {
			c.warned = time.Now()
			c.logger.Warn("cluster subscriptions unreachable; serving the static ones, retrying",
				zap.Duration("every", clusterReopenEvery), zap.Error(err))
		}
		return false
	}
	c.kv.Store(kv)
	c.signal()
	return true
}

// run retries opening the bucket until it opens or the storage is closed, then forwards the watch of the
// version marker to the watchers until the storage is closed.
func (c *clusterSubscriptions) run(ctx context.Context, open bool) {
	defer close(c.done)
	for !open {
		select {
		case <-ctx.Done():
			return
		case <-time.After(clusterReopenEvery):
		}
		open = c.tryOpen()
	}
	watch, err := c.kv.Load().Watch(ctx, matcher.VersionKey(matcher.DefaultPrefix))
	if err != nil {
		// The matchers' poll timer (5 s) still finds changes; only their speed is lost.
		c.logger.Error("watching cluster subscriptions failed; changes are found by polling", zap.Error(err))
		return
	}
	for range watch {
		c.signal()
	}
}

// signal tells every watcher that the subscriptions may have changed.
func (c *clusterSubscriptions) signal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// watch returns a channel for a matcher's StoreConfig.Changed and the function that stops signalling it.
func (c *clusterSubscriptions) watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	c.watchers[ch] = true
	c.mu.Unlock()
	if c.kv.Load() != nil {
		select { // already reached: a store made now loads at once
		case ch <- struct{}{}:
		default:
		}
	}
	return ch, func() {
		c.mu.Lock()
		delete(c.watchers, ch)
		c.mu.Unlock()
	}
}

// Destruct stops reaching or watching NATS and closes the bucket's connection: the last config naming the
// cluster is gone.
func (c *clusterSubscriptions) Destruct() error {
	c.cancel()
	<-c.done
	if kv := c.kv.Load(); kv != nil {
		return kv.Close()
	}
	return nil
}

// storage is the open bucket, or errSubscriptionsUnreachable.
func (c *clusterSubscriptions) storage() (*natskv.Storage, error) {
	if kv := c.kv.Load(); kv != nil {
		return kv, nil
	}
	return nil, errSubscriptionsUnreachable
}

func (c *clusterSubscriptions) Lock(ctx context.Context, name string) error {
	kv, err := c.storage()
	if err != nil {
		return err
	}
	return kv.Lock(ctx, name)
}

func (c *clusterSubscriptions) Unlock(ctx context.Context, name string) error {
	kv, err := c.storage()
	if err != nil {
		return err
	}
	return kv.Unlock(ctx, name)
}

func (c *clusterSubscriptions) Store(ctx context.Context, key string, value []byte) error {
	kv, err := c.storage()
	if err != nil {
		return err
	}
	return kv.Store(ctx, key, value)
}

func (c *clusterSubscriptions) Load(ctx context.Context, key string) ([]byte, error) {
	kv, err := c.storage()
	if err != nil {
		return nil, err
	}
	return kv.Load(ctx, key)
}

func (c *clusterSubscriptions) Delete(ctx context.Context, key string) error {
	kv, err := c.storage()
	if err != nil {
		return err
	}
	return kv.Delete(ctx, key)
}

func (c *clusterSubscriptions) Exists(ctx context.Context, key string) bool {
	kv, err := c.storage()
	return err == nil && kv.Exists(ctx, key)
}

func (c *clusterSubscriptions) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	kv, err := c.storage()
	if err != nil {
		return nil, err
	}
	return kv.List(ctx, prefix, recursive)
}

func (c *clusterSubscriptions) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	kv, err := c.storage()
	if err != nil {
		return certmagic.KeyInfo{}, err
	}
	return kv.Stat(ctx, key)
}

// String names the storage in Caddy's logs.
func (c *clusterSubscriptions) String() string {
	return fmt.Sprintf("cluster subscriptions (%s)", c.cfg.Bucket())
}
