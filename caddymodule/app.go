package caddymodule

import (
	"cmp"
	"context"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/sidehook/sidehook/matcher"
	"github.com/sidehook/sidehook/proxy"
	"github.com/sidehook/sidehook/queue"
)

func init() {
	caddy.RegisterModule(new(App))
}

// App is the `sidehook` Caddy app. Handlers load it implicitly (ctx.App); nobody needs to configure it. It
// exists because a handler has no Start: the queue (a Badger DB plus its workers) must be opened when a config
// starts, and never by `caddy validate`, which only provisions. Queues themselves live in a caddy.UsagePool keyed
// by directory, so a `caddy reload` hands the same open DB and the same workers to the new config.
type App struct {
	logger *zap.Logger
	budget *proxy.Budget

	mu        sync.Mutex
	budgetMax int64                  // the smallest memory_budget a handler set; 0: the default
	dirs      map[string]*dirConfig  // handlers' wishes, by queue directory
	entries   map[string]*queueEntry // what this config holds from the pool
	inFlight  map[string]int         // usages of entries out with requests (queueusage.go)
	stopped   bool
	// openFailures holds, per cluster queue that could not be opened, why; reopenLoop keeps trying and
	// requests fail fast meanwhile (clusteropen.go).
	openFailures map[string]error
	stopping     chan struct{} // closed by Stop: ends reopenLoops
}

// dirConfig collects what the handlers sharing one queue registered. A queue is a directory (queue_dir) or, in
// cluster mode, a NATS JetStream prefix on a set of servers (ClusterConfig.queueKey); the maps are keyed alike.
type dirConfig struct {
	delivery queue.Config // every handler sharing the queue has the same (register checks it)
	stores   []*matcher.Store
	metrics  *metrics
	open     queueOpener
	// cluster: the queue is on NATS, which may be unreachable when the config starts. Then the config starts
	// all the same (calls pass through, their events are dropped and counted) and reopenLoop keeps trying.
	cluster bool
}

// queueOpener opens a queue: the Badger store in a directory, or the JetStream store of a cluster.
type queueOpener func(logger *zap.Logger) (*queue.Queue, error)

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "sidehook",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision prepares the app; it opens nothing.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.budget = memoryBudget
	a.dirs = map[string]*dirConfig{}
	a.entries = map[string]*queueEntry{}
	a.inFlight = map[string]int{}
	a.openFailures = map[string]error{}
	return nil
}

// register is called by each handler's Provision. Handlers sharing a queue directory share its one delivery
// engine, so a handler whose delivery settings differ from those already registered for the directory is a
// config error (sharedqueue.go) rather than a setting silently ignored.
func (a *App) register(dir string, delivery queue.Config, store *matcher.Store, m *metrics, open queueOpener, cluster bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	dc, ok := a.dirs[dir]
	if !ok {
		dc = &dirConfig{delivery: delivery, metrics: m, open: open, cluster: cluster}
		a.dirs[dir] = dc
	} else if err := sameDeliveryForSharedQueue(dir, dc.delivery, delivery); err != nil {
		return err
	}
	dc.stores = append(dc.stores, store)
	if e := a.entries[dir]; e != nil {
		e.endpoints.add(store)
	}
	return nil
}

// limitMemory records a handler's memory_budget; the smallest one set applies to the process at Start.
func (a *App) limitMemory(n int64) {
	if n <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.budgetMax == 0 || n < a.budgetMax {
		a.budgetMax = n
	}
}

// unregister is called by a handler's Cleanup.
func (a *App) unregister(dir string, store *matcher.Store) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.entries[dir]; e != nil {
		e.endpoints.remove(store)
	}
}

// Start opens (or takes over from the previous config) every queue the handlers asked for and applies this
// config's delivery settings to it.
func (a *App) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	// Set at Start, not Provision: `caddy validate` provisions too, and must not change a running budget.
	memoryBudget.SetMax(cmp.Or(a.budgetMax, defaultMemoryBudget) / gcHeadroom)
	a.stopping = make(chan struct{})
	for dir, dc := range a.dirs {
		if _, err := a.acquireLocked(dir); err != nil {
			if !dc.cluster {
				return err
			}
			a.logger.Warn("the cluster's queue could not be opened: calls pass through and their events are dropped until it opens; retrying",
				zap.String("queue", dir), zap.Duration("every", clusterReopenEvery), zap.Error(err))
			go a.reopenLoop(dir, a.stopping)
		}
	}
	return nil
}

// Stop gives this config's queues back to the pool; the last user closes them. A queue that requests of this
// config are still using is given back by the last of them instead (queueusage.go explains why): Stop does
// not wait for them.
func (a *App) Stop() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = true
	if a.stopping != nil {
		close(a.stopping)
	}
	var firstErr error
	for dir, e := range a.entries {
		for _, s := range a.dirs[dir].stores {
			e.endpoints.remove(s)
		}
		if a.inFlight[dir] > 0 {
			continue
		}
		delete(a.entries, dir)
		if err := giveBackQueue(dir); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func (a *App) acquireLocked(dir string) (*queueEntry, error) {
	if e := a.entries[dir]; e != nil {
		return e, nil
	}
	dc := a.dirs[dir]
	if err := a.openFailures[dir]; err != nil {
		return nil, err // a cluster's queue that reopenLoop is trying to open: fail fast
	}
	e, err := loadQueue(dir, a.openQueue(dir, dc.open))
	if err != nil {
		if dc.cluster {
			a.openFailures[dir] = err
		}
		return nil, err
	}
	a.installLocked(dir, dc, e)
	return e, nil
}

// loadQueue takes a reference to dir's queue from the pool, opening it with open when no config holds it.
func loadQueue(dir string, open caddy.Constructor) (*queueEntry, error) {
	poolChanges.Lock()
	defer poolChanges.Unlock()
	val, _, err := queues.LoadOrNew(dir, open)
	if err != nil {
		return nil, err
	}
	return val.(*queueEntry), nil
}

// installLocked makes e this config's queue for dir: its handlers' stores answer for its jobs and its
// delivery settings apply. a.mu must be held.
func (a *App) installLocked(dir string, dc *dirConfig, e *queueEntry) {
	for _, s := range dc.stores {
		e.endpoints.add(s)
	}
	e.q.Configure(dc.delivery, e.endpoints)
	if dc.metrics != nil {
		dc.metrics.watchQueue(e.q)
	}
	a.entries[dir] = e
}

// queues holds the open queues of this process, shared across config reloads.
var queues = caddy.NewUsagePool()

// queueEntry is the pooled value: one open queue and the subscription stores that answer for its jobs.
type queueEntry struct {
	dir       string
	q         *queue.Queue
	endpoints *endpointSet
}

// Destruct closes the queue when the last config using it is gone.
func (e *queueEntry) Destruct() error { return e.q.Close() }

// endpointSet answers the queue's questions about subscriptions from every store of every live config using
// the queue: during a reload the old and the new config's stores are both there.
type endpointSet struct {
	mu     sync.RWMutex
	stores []*matcher.Store
}

func (s *endpointSet) add(st *matcher.Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.stores {
		if have == st {
			return
		}
	}
	s.stores = append(s.stores, st)
}

func (s *endpointSet) remove(st *matcher.Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, have := range s.stores {
		if have == st {
			s.stores = append(s.stores[:i], s.stores[i+1:]...)
			return
		}
	}
}

// subscriptions lists what every store in the set knows, store by store. A subscription that two stores know
// (the old and the new config's, during a reload) is listed once per store; callers that want it once dedupe by
// UID. The set's lock stays the set's business: callers get a copy to range over without holding it.
func (s *endpointSet) subscriptions() []*matcher.Subscription {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*matcher.Subscription
	for _, st := range s.stores {
		out = append(out, st.Index().All()...)
	}
	return out
}

// SigningSecrets implements queue.Endpoints: the newest store that knows the subscription answers.
func (s *endpointSet) SigningSecrets(uid string) ([]string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := len(s.stores) - 1; i >= 0; i-- {
		if _, known := s.stores[i].Index().Get(uid); known {
			return s.stores[i].SigningSecrets(uid)
		}
	}
	return nil, false
}

// Gone implements queue.Endpoints: the receiver answered 410, so the subscription is disabled for good.
func (s *endpointSet) Gone(uid string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := len(s.stores) - 1; i >= 0; i-- {
		if _, known := s.stores[i].Index().Get(uid); known {
			_ = s.stores[i].Disable(context.Background(), uid)
			return
		}
	}
}

// Interface guards.
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
	_ caddy.Destructor  = (*queueEntry)(nil)
	_ queue.Endpoints   = (*endpointSet)(nil)
)
