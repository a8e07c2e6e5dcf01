package badgerstore

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/sidehook/sidehook/queue/store"
	"go.uber.org/zap"
)

// Store is a store.Store kept in one Badger directory. One process owns the directory (Badger
// locks it); claims live in this process's memory only.
type Store struct {
	dir    string
	db     *badger.DB
	logger *zap.Logger

	limits *dailyLimits
	claims *claims
	// jobs counts the job keys in Badger, claimed ones included (Jobs); finished counts final
	// outcomes and limited events since Open, which tell compactIfDrained that there is something
	// to reclaim.
	jobs     atomic.Int64
	finished atomic.Uint64
	// compact tracks when a drained store was last flattened (gc.go).
	compact compactState
	// sweep is where the next sweep of expired logs' bodies starts (sweep.go).
	sweep bodySweep
	// disk keeps Badger from writing into space the filesystem cannot give (diskspace.go).
	disk *diskGate

	// maintenance is the interval of gcLoop (SetMaintenanceInterval); maintenanceChanged wakes
	// the loop when it changes (capacity 1: a pending wake-up is enough).
	maintenance        atomic.Int64
	maintenanceChanged chan struct{}

	// inScan, when set (tests only), runs inside every Claim once its snapshot is taken: the
	// moment a concurrent commit is invisible to the scan.
	inScan func()

	// ops counts the calls running against Badger, which Close waits for before it closes it.
	ops       sync.Mutex
	opsCount  int
	opsIdle   *sync.Cond
	closeOnce sync.Once
	closing   chan struct{}
	closed    atomic.Bool
	bgDone    sync.WaitGroup // gcLoop and pagesLoop
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.Maintained = (*Store)(nil)
)

// defaultMaintenanceInterval is how often expired logs' bodies are swept and the value log is
// collected until SetMaintenanceInterval says otherwise.
const defaultMaintenanceInterval = 5 * time.Minute

// Open opens (or creates) the Badger database in dir. Jobs that were claimed when a previous
// process died are due again: a claim lives only in memory, and the job key stays until the
// outcome's commit.
func Open(dir string, logger *zap.Logger) (*Store, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	opts := badgerOptions(dir, logger)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open queue database in %s: %w", dir, err)
	}
	s := &Store{
		dir:                dir,
		db:                 db,
		logger:             logger,
		limits:             newDailyLimits(),
		claims:             newClaims(),
		closing:            make(chan struct{}),
		maintenanceChanged: make(chan struct{}, 1),
		disk: newDiskGate(dir, opts, func(err error) {
			logger.Warn("cannot measure the queue directory's free space; nothing is written to the queue until it can", zap.Error(err))
		}),
	}
	s.opsIdle = sync.NewCond(&s.ops)
	s.maintenance.Store(int64(defaultMaintenanceInterval))
	depth, err := countJobs(db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("count queued jobs: %w", err)
	}
	s.jobs.Store(depth)
	s.bgDone.Add(1)
	go s.gcLoop()
	if r := newMappedReleaser(dir); r != nil {
		s.bgDone.Add(1)
		go s.pagesLoop(r)
	}
	return s, nil
}

// Watch sets the function told of due jobs and announces every destination that has jobs
// (discover).
func (s *Store) Watch(due func(dest string, due int64)) {
	s.claims.setWatch(due)
	if !s.enter() {
		return
	}
	defer s.leave()
	if err := s.discover(); err != nil {
		s.logger.Error("find queued jobs", zap.Error(err))
	}
}

// Jobs counts the job keys, claimed ones included.
func (s *Store) Jobs() (int, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	return int(max(s.jobs.Load(), 0)), nil
}

// Writable reports whether the disk gate lets outcomes be recorded (its floor).
func (s *Store) Writable() bool { return !s.closed.Load() && s.disk.allowBookkeeping() }

// Disk is the disk gate's view, nil where the platform cannot measure.
func (s *Store) Disk() *store.DiskSpace { return s.disk.view() }

// SetMaintenanceInterval sets how often expired logs' bodies are swept and Badger's value log is
// collected (gcLoop); d <= 0 restores the default of five minutes. It applies to the running loop
// at once, not after the interval it was sleeping.
func (s *Store) SetMaintenanceInterval(d time.Duration) {
	if d <= 0 {
		d = defaultMaintenanceInterval
	}
	if time.Duration(s.maintenance.Swap(int64(d))) == d {
		return
	}
	select {
	case s.maintenanceChanged <- struct{}{}:
	default:
	}
}

// Close ends the background loops and closes Badger. Claims still held are lost: their jobs are
// due again at the next Open.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.ops.Lock()
		s.closed.Store(true)
		s.ops.Unlock()
		s.claims.stop() // wakes a Retry waiting for a claim
		s.ops.Lock()
		for s.opsCount > 0 {
			s.opsIdle.Wait()
		}
		s.ops.Unlock()
		close(s.closing)
		s.bgDone.Wait()
		if cerr := s.db.Close(); cerr != nil {
			err = fmt.Errorf("close queue database: %w", cerr)
		}
	})
	return err
}

// enter admits a call that uses Badger, unless the store is closed; the call ends with leave.
func (s *Store) enter() bool {
	s.ops.Lock()
	defer s.ops.Unlock()
	if s.closed.Load() {
		return false
	}
	s.opsCount++
	return true
}

func (s *Store) leave() {
	s.ops.Lock()
	if s.opsCount--; s.opsCount == 0 {
		s.opsIdle.Broadcast()
	}
	s.ops.Unlock()
}
