package badgerstore

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

const (
	// gcRoundsPerRun bounds one run; each round rewrites at most one value log file.
	gcRoundsPerRun = 64
	// gcDiscardRatio: rewrite a value log file once half of it is garbage.
	gcDiscardRatio = 0.5
)

// gcLoop reclaims disk on a timer, so disk use follows the backlog down as events are delivered
// and their logs expire. It starts at Open with the default interval and takes a new one from
// SetMaintenanceInterval at once, instead of after the interval it was sleeping.
func (s *Store) gcLoop() {
	defer s.bgDone.Done()
	interval := time.Duration(s.maintenance.Load())
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-s.maintenanceChanged:
			if d := time.Duration(s.maintenance.Load()); d != interval {
				interval = d
				timer.Reset(interval)
			}
		case <-timer.C:
			s.CollectGarbage()
			interval = time.Duration(s.maintenance.Load())
			timer.Reset(interval)
		}
	}
}

// CollectGarbage deletes the bodies of expired logs (sweepBodies), compacts a drained store
// (compactIfDrained), then runs Badger's value-log GC until a round finds nothing worth rewriting.
// Every step writes before it frees, so each waits for the disk gate (diskspace.go): a run with
// too little space does nothing and the next one tries again. gcLoop runs it; it is exported for
// tests and tools that need the disk back now.
func (s *Store) CollectGarbage() {
	if !s.enter() {
		return
	}
	defer s.leave()
	if !s.disk.allowBookkeeping() {
		return
	}
	if n, err := s.sweepBodies(time.Now()); err != nil {
		s.logger.Warn("delete bodies of expired logs", zap.Error(err))
	} else if n > 0 {
		s.finished.Add(uint64(n))
	}
	s.compactIfDrained()
	for range gcRoundsPerRun {
		// A round rewrites the live part of one value log file into the current one, which may
		// need a new file.
		if !s.disk.allowRewrite(2 * s.db.Opts().ValueLogFileSize) {
			return
		}
		err := s.db.RunValueLogGC(gcDiscardRatio)
		if err == nil {
			continue
		}
		if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
			s.logger.Warn("value log GC", zap.Error(err))
		}
		return
	}
}

// compactState remembers what the last flatten already reclaimed.
type compactState struct {
	mu sync.Mutex
	// finished is Store.finished (final outcomes, limited events and swept bodies) at the last
	// flatten.
	finished uint64
	// at is when the last flatten ran, unix ns.
	at int64
	// expiry is the latest time a log item written by this process expires, unix ns: a flatten
	// after it reclaims every log that was written.
	expiry atomic.Int64
}

// noteExpiry records that a log item expires at t (unix ns).
func (c *compactState) noteExpiry(t int64) {
	for {
		cur := c.expiry.Load()
		if t <= cur || c.expiry.CompareAndSwap(cur, t) {
			return
		}
	}
}

// compactIfDrained flattens Badger's LSM tree when no job waits and the last flatten is out of
// date: because jobs finished since, or because log items expired since. Badger drops deleted and
// expired keys only when it compacts them into the bottom level, which a sidecar-sized database
// may not reach for a long time on its own, so the disk of a drained backlog would otherwise stay
// taken. While jobs wait it does nothing: rewriting the whole tree on every tick would cost more
// than it gives back.
func (s *Store) compactIfDrained() {
	if s.jobs.Load() != 0 {
		return
	}
	c := &s.compact
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now().UnixNano()
	finished := s.finished.Load()
	expiry := c.expiry.Load()
	// c.at 0: the first run since the store opened, which may hold what an earlier process
	// deleted or let expire.
	stale := c.at == 0 || finished != c.finished || (expiry > c.at && now > expiry)
	if !stale {
		return
	}
	// A flatten writes the tables anew before it deletes the old ones.
	if lsm, _ := s.db.Size(); !s.disk.allowRewrite(lsm) {
		return
	}
	if err := s.db.Flatten(2); err != nil {
		s.logger.Warn("compact drained queue", zap.Error(err))
		return
	}
	c.finished, c.at = finished, now
}
