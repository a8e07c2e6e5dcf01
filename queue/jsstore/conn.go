package jsstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sidehook/sidehook/queue/store"
)

// writableRecheck is how long Writable trusts its last look at JetStream: the engine asks before every
// attempt, and one stream-info request per attempt would double the store's traffic.
const writableRecheck = time.Second

// Store is a store.Store over NATS JetStream, shared by every process opened on the same servers and prefix.
type Store struct {
	cfg   Config
	nc    *nats.Conn
	js    jetstream.JetStream
	b     buckets
	owner string // this store's id in the claims it takes

	// ctx ends at Close: background work (the watch) stops with it, and Close waits for it in following.
	ctx       context.Context
	cancel    context.CancelFunc
	following sync.WaitGroup

	mu     sync.Mutex
	closed bool
	held   map[string]claimRef // claims this store holds, by job key, released at Close
	watch  func(dest string, due int64)

	health health
	leases leaseTable // claims the watch saw, announced when they run out
	// downSince and leaderlessSince are when a write first found the connection down, or the jobs stream
	// without a leader (unix ns), 0 while it is not (reachable.go).
	downSince, leaderlessSince atomic.Int64
}

var _ store.Store = (*Store)(nil)

// Open connects to JetStream and creates the store's buckets, or binds to those another process created.
func Open(cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	nc, err := cfg.Connect("sidehook " + cfg.Prefix)
	if err != nil {
		return nil, fmt.Errorf("jsstore: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jsstore: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.RequestTimeout)
	defer cancel()
	b, err := openBuckets(ctx, js, cfg.Prefix, cfg.Replicas)
	if err != nil {
		nc.Close()
		return nil, err
	}
	s := &Store{cfg: cfg, nc: nc, js: js, b: b, owner: newOwnerID(), held: make(map[string]claimRef)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// newOwnerID names one store instance in its claims; random, so that a restarted process never mistakes its
// predecessor's claims for its own.
func newOwnerID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// request is a context for one JetStream exchange, bounded by RequestTimeout and ended by Close.
func (s *Store) request() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Jobs counts the jobs stored, claimed ones included: the jobs stream holds one message per job (a final
// outcome deletes it rather than leaving a marker).
func (s *Store) Jobs() (int, error) {
	if s.isClosed() {
		return 0, store.ErrClosed
	}
	ctx, cancel := s.request()
	defer cancel()
	info, err := s.b.jobsStream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("jsstore: jobs stream info: %w", err)
	}
	return int(info.State.Msgs), nil
}

// Disk is nil: the store keeps no local directory; the servers watch their own disks.
func (s *Store) Disk() *store.DiskSpace { return nil }

// Close releases the claims still held (so that a restarted process finds their jobs due at once, not after
// their lease), stops the watch and closes the connection. Closing again does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	held := s.held
	s.held = nil
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	var errs []error
	for _, ref := range held {
		if err := s.releaseClaim(ctx, ref); err != nil {
			errs = append(errs, err)
		}
	}
	s.cancel()
	s.following.Wait() // no announcement comes after Close
	s.nc.Close()
	if len(errs) > 0 {
		// The claims end by their lease all the same.
		return fmt.Errorf("jsstore: releasing claims at close: %w", errors.Join(errs...))
	}
	return nil
}

// health is Writable's cached look at JetStream.
type health struct {
	mu      sync.Mutex
	checked time.Time
	ok      bool
}

// Writable reports whether JetStream takes writes now: the connection is up and the jobs stream answers
// (it does not without a leader, so a cluster that lost its quorum is not writable). The answer is cached
// for writableRecheck.
func (s *Store) Writable() bool {
	if s.isClosed() || s.nc.Status() != nats.CONNECTED {
		return false
	}
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	if time.Since(s.health.checked) < writableRecheck {
		return s.health.ok
	}
	ctx, cancel := context.WithTimeout(s.ctx, min(s.cfg.RequestTimeout, writableRecheck))
	defer cancel()
	_, err := s.b.jobsStream.Info(ctx)
	s.health.ok, s.health.checked = err == nil, time.Now()
	return s.health.ok
}
