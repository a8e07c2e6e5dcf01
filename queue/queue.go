package queue

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sidehook/sidehook/queue/store"
	"go.uber.org/zap"
)

// Queue is the delivery engine over one store. The caddymodule keeps it in a caddy.UsagePool so
// reloads reuse it and only call Configure again.
type Queue struct {
	st     store.Store
	logger *zap.Logger
	client *http.Client
	// transport is kept apart from client to close idle connections when the destination rules
	// change.
	transport *http.Transport

	cfg       atomic.Pointer[Config]
	endpoints atomic.Pointer[endpointsBox]

	sched    *scheduler
	recorder *recorder
	stats    counters

	// lifecycle orders Configure's start of the scheduler against Close.
	lifecycle sync.Mutex
	started   bool
	closing   chan struct{}
	schedDone sync.WaitGroup // the scheduler's loop
	closed    atomic.Bool
}

// endpointsBox lets a nil Endpoints be stored in an atomic.Pointer.
type endpointsBox struct{ ep Endpoints }

// New returns the engine over st, which it owns from now on (Close closes it). Nothing is
// delivered before the first Configure.
func New(st store.Store, logger *zap.Logger) *Queue {
	if logger == nil {
		logger = zap.NewNop()
	}
	q := &Queue{st: st, logger: logger, closing: make(chan struct{})}
	initial := Config{}.withDefaults()
	q.cfg.Store(&initial)
	q.endpoints.Store(&endpointsBox{})
	q.transport = newGuardedTransport(q.guardSettings)
	q.client = &http.Client{
		Transport: q.transport,
		// 3xx is a failure by contract: never follow a redirect, whose target could also
		// sidestep the destination guard.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	depth, err := st.Jobs()
	if err != nil {
		logger.Error("count queued jobs; the depth in stats starts from 0", zap.Error(err))
	}
	q.stats.depth.Store(int64(depth))
	q.recorder = newRecorder(q)
	q.sched = newScheduler(q)
	// The store announces every destination with jobs at once, before the first Claim.
	st.Watch(q.sched.note)
	go q.recorder.run()
	return q
}

// Configure applies cfg and ep live; the first call starts the scheduler. Jobs are never held
// outside the store beyond a few claimed ahead, so changing Workers, PerDestination, Retry or
// Timeout only changes what the next claims and attempts do.
func (q *Queue) Configure(cfg Config, ep Endpoints) {
	q.lifecycle.Lock()
	defer q.lifecycle.Unlock()
	if q.closed.Load() {
		return
	}
	full := cfg.withDefaults()
	old := q.cfg.Swap(&full)
	q.endpoints.Store(&endpointsBox{ep: ep})
	if m, ok := q.st.(store.Maintained); ok {
		m.SetMaintenanceInterval(full.GCInterval)
	}
	if old != nil && !sameGuard(*old, full) {
		// Connections opened under the old rules must not outlive them.
		q.transport.CloseIdleConnections()
	}
	if !q.started {
		q.started = true
		q.schedDone.Add(1)
		go func() {
			defer q.schedDone.Done()
			q.sched.run(q.closing)
		}()
	}
	q.sched.wake()
}

// Close stops claiming, gives back the jobs claimed ahead, waits for the attempts in flight (each
// bounded by its Timeout) and their outcomes' Record, then closes the store.
func (q *Queue) Close() error {
	q.lifecycle.Lock()
	if !q.closed.CompareAndSwap(false, true) {
		q.lifecycle.Unlock()
		return nil
	}
	close(q.closing)
	q.lifecycle.Unlock()
	q.schedDone.Wait()
	q.sched.waitAttempts()
	q.recorder.stop()
	q.transport.CloseIdleConnections()
	return q.st.Close()
}

func (q *Queue) config() *Config { return q.cfg.Load() }

func (q *Queue) now() time.Time { return q.config().Now() }

// policy is what the store needs of cfg for a write.
func policy(cfg *Config) store.Policy {
	return store.Policy{DailyLimit: cfg.DailyLimit, KeepLogs: cfg.KeepLogs, PendingSpan: pendingSpan(cfg.Retry)}
}

// pendingSpan bounds how long a job stays pending on its retry schedule: the delays with their
// jitter, and an hour to spare.
func pendingSpan(retry []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range retry {
		sum += d
	}
	return sum*5/4 + time.Hour
}
