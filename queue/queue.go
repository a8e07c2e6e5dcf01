// Package queue is sidehook's durable delivery side: events stored in Badger
// before the API's response is released, delivery workers with per-destination
// limits, signed POSTs through a dialer that refuses private destinations,
// retries with jitter, delivery logs and daily limits. It knows nothing of
// Caddy or JSON-RPC: the caddymodule hands it finished messages.
package queue

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"go.uber.org/zap"
)

// ErrNotFound is returned for a log id the queue does not know (never
// existed, or its log expired).
var ErrNotFound = errors.New("queue: log item not found")

// ErrNotRetryable is returned by Retry for an item that was never queued
// (status "limited").
var ErrNotRetryable = errors.New("queue: item was limited and never queued; it cannot be retried")

// Queue is the durable event store and its delivery machinery. One Queue
// owns one Badger directory; the caddymodule keeps it in a caddy.UsagePool so
// reloads reuse it and only call Configure again.
type Queue struct {
	db     *badger.DB
	logger *zap.Logger
	client *http.Client
	// transport is kept apart from client to close idle connections when
	// the destination rules change.
	transport *http.Transport

	cfg       atomic.Pointer[Config]
	endpoints atomic.Pointer[endpointsBox]

	limits *dailyLimits
	sched  *scheduler
	// commits records attempt outcomes in shared transactions (commit.go).
	commits *committer
	stats   counters
	// compact tracks when a drained queue was last flattened (gc.go).
	compact compactState
	// sweep is where the next sweep of expired logs' bodies starts (sweep.go).
	sweep bodySweep
	// disk keeps Badger from writing into space the filesystem cannot give
	// (diskspace.go).
	disk *diskGate
	// lifecycle orders Configure's start of the dispatcher against Close.
	lifecycle sync.Mutex
	started   bool
	closing   chan struct{}
	// gcIntervalChanged wakes gcLoop when Configure changes GCInterval
	// (capacity 1: a pending wake-up is enough).
	gcIntervalChanged chan struct{}
	bgDone            sync.WaitGroup // dispatcher and GC loops
	closed            atomic.Bool
}

// endpointsBox lets a nil Endpoints be stored in an atomic.Pointer.
type endpointsBox struct{ ep Endpoints }

// Open opens (or creates) the Badger database in dir. Jobs that were being
// attempted when a previous process died are due again: an attempt's claim
// lives only in memory, so its job key is still in the due index.
func Open(dir string, logger *zap.Logger) (*Queue, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	opts := badgerOptions(dir, logger)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open queue database in %s: %w", dir, err)
	}
	q := &Queue{
		db:      db,
		logger:  logger,
		limits:  newDailyLimits(),
		closing: make(chan struct{}),
		// gcLoop needs a buffered wake-up (see the field).
		gcIntervalChanged: make(chan struct{}, 1),
		disk: newDiskGate(dir, opts, func(err error) {
			logger.Warn("cannot measure the queue directory's free space; nothing is written to the queue until it can", errField(err))
		}),
	}
	initial := Config{}.withDefaults()
	q.cfg.Store(&initial)
	q.endpoints.Store(&endpointsBox{})
	q.transport = newGuardedTransport(q.guardSettings)
	q.client = &http.Client{
		Transport: q.transport,
		// 3xx is a failure by contract: never follow a redirect, whose
		// target could also sidestep the destination guard.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	q.sched = newScheduler(q)
	q.commits = newCommitter(q)
	depth, err := q.countJobs()
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("count queued jobs: %w", err)
	}
	q.stats.depth.Store(int64(depth))
	go q.commits.run()
	q.bgDone.Add(1)
	go q.gcLoop()
	if r := newMappedReleaser(dir); r != nil {
		q.bgDone.Add(1)
		go q.mappedLoop(r)
	}
	return q, nil
}

// badgerOptions tunes Badger for a sidecar queue rather than a database
// server. The figures are the benchmark's (bench/, figure 7a: 1M small events
// queued, receiver down); before this tuning the instance held 2.4 GiB.
//
//   - Bodies go to the value log (ValueThreshold 256 B: every body is larger,
//     most states smaller), so compactions move keys, states and value
//     pointers instead of bodies. A body is written once (bodyEntry).
//   - Most of Badger's heap is table builders, not caches: each compaction
//     runs up to 8 + 5 builders at once, each starting from twice its table
//     size, and Badger pools up to 8 builder allocators at the largest size
//     they grew to. Tables are therefore 512 KiB on every level
//     (TableSizeMultiplier 1; Badger's default doubles them per level).
//   - Memtables stay 16 MiB: with 8 MiB the flushes and L0 compactions came
//     twice as often, and the matched-and-queued throughput (every matched
//     call waits on its write) fell from 0.87 to 0.84 of bare reverse_proxy,
//     under its bar of 0.85; 1 MiB tables instead of 512 KiB changed nothing
//     measurable there.
//   - No compression: with Snappy a builder measures its table by the
//     compressed size of the blocks compressed so far, which lags, so it kept
//     several times the table size in memory (anonymous memory 245 MiB
//     instead of 80-130 at 1M queued). Without compression no block cache is
//     needed either: tables are read straight from their mapping.
//   - Small value-log files (16 MiB) let the GC loop give disk back in small
//     steps once bodies are swept.
//
// The pages of the files Badger maps count in the resident set too; the
// queue pages them out past a budget (mapped_linux.go).
//
// SyncWrites stays false. The at-least-once promise is about the process being
// killed, not the machine losing power: a committed transaction has been
// copied into the memtable's write-ahead log (memTable.Put -> logFile.writeEntry
// copies into lf.Data, an mmap'd shared file mapping) and, for values over
// ValueThreshold (every body), into the mmap'd value log, before Txn.Commit
// returns (Commit waits on the write request). Those pages belong to the
// kernel's page cache, so they reach the file even when the process dies with
// SIGKILL right after Commit. The page releaser (mapped_linux.go) does not
// weaken this: reclaim frees clean pages only, never a dirty one.
func badgerOptions(dir string, logger *zap.Logger) badger.Options {
	opts := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{logger.Sugar().Named("badger")}).
		WithLoggingLevel(badger.WARNING).
		WithSyncWrites(false).
		WithNumVersionsToKeep(1).
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(512 << 10).
		WithBaseLevelSize(8 << 20).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(8 << 20).
		WithValueThreshold(256).
		WithValueLogFileSize(16 << 20).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithMetricsEnabled(false)
	opts.TableSizeMultiplier = 1
	return opts
}

// Configure applies cfg and ep live; the first call starts the dispatcher.
// Jobs are never held outside Badger, so changing Workers, PerDestination,
// Retry or Timeout only changes what the next attempts do.
func (q *Queue) Configure(cfg Config, ep Endpoints) {
	q.lifecycle.Lock()
	defer q.lifecycle.Unlock()
	if q.closed.Load() {
		return
	}
	full := cfg.withDefaults()
	old := q.cfg.Swap(&full)
	q.endpoints.Store(&endpointsBox{ep: ep})
	if old != nil && old.GCInterval != full.GCInterval {
		select {
		case q.gcIntervalChanged <- struct{}{}:
		default:
		}
	}
	if old != nil && !sameGuard(*old, full) {
		// Connections opened under the old rules must not outlive them.
		q.transport.CloseIdleConnections()
	}
	if !q.started {
		q.started = true
		q.bgDone.Add(1)
		go q.sched.run()
	}
	q.sched.wake()
}

// Close stops dispatching, waits for attempts in flight (each is bounded by
// its Timeout), then closes Badger.
func (q *Queue) Close() error {
	q.lifecycle.Lock()
	if !q.closed.CompareAndSwap(false, true) {
		q.lifecycle.Unlock()
		return nil
	}
	close(q.closing)
	q.lifecycle.Unlock()
	q.bgDone.Wait()
	q.sched.waitIdle()
	q.commits.stop()
	q.transport.CloseIdleConnections()
	if err := q.db.Close(); err != nil {
		return fmt.Errorf("close queue database: %w", err)
	}
	return nil
}

func (q *Queue) config() *Config { return q.cfg.Load() }

func (q *Queue) now() time.Time { return q.config().Now() }

// badgerLogger routes Badger's messages to zap. Info and debug are dropped:
// Badger is chatty about compactions that operators need not see.
type badgerLogger struct{ s *zap.SugaredLogger }

func (l badgerLogger) Errorf(f string, a ...any)   { l.s.Errorf(f, a...) }
func (l badgerLogger) Warningf(f string, a ...any) { l.s.Warnf(f, a...) }
func (l badgerLogger) Infof(string, ...any)        {}
func (l badgerLogger) Debugf(string, ...any)       {}

var _ badger.Logger = badgerLogger{}
