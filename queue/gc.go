package queue

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

const (
	defaultGCInterval = 5 * time.Minute
	// gcRoundsPerRun bounds one run; each round rewrites at most one value log file.
	gcRoundsPerRun = 64
	// gcDiscardRatio: rewrite a value log file once half of it is garbage.
	gcDiscardRatio = 0.5
)

// gcLoop reclaims value-log space on a timer, so disk use follows the
// backlog down as events are delivered and their logs expire. The loop starts
// at Open, before the first Configure, so it re-reads Config.GCInterval
// whenever Configure signals a change instead of keeping the default it began
// with.
func (q *Queue) gcLoop() {
	defer q.bgDone.Done()
	interval := q.config().GCInterval
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-q.closing:
			return
		case <-q.gcIntervalChanged:
			if d := q.config().GCInterval; d != interval {
				interval = d
				timer.Reset(interval)
			}
		case <-timer.C:
			q.CollectGarbage()
			interval = q.config().GCInterval
			timer.Reset(interval)
		}
	}
}

// CollectGarbage deletes the bodies of expired logs (sweepBodies), compacts
// a drained queue (compactIfDrained), then runs Badger's value-log GC until a
// round finds nothing worth rewriting. Every step writes before it frees, so
// each waits for the disk gate (diskspace.go): a run with too little space
// does nothing and the next one tries again.
func (q *Queue) CollectGarbage() {
	if !q.disk.allowBookkeeping() {
		return
	}
	if n, err := q.sweepBodies(time.Now()); err != nil {
		q.logger.Warn("delete bodies of expired logs", errField(err))
	} else if n > 0 {
		q.compact.swept.Add(uint64(n))
	}
	q.compactIfDrained()
	for range gcRoundsPerRun {
		// A round rewrites the live part of one value log file into the
		// current one, which may need a new file.
		if !q.disk.allowRewrite(2 * q.db.Opts().ValueLogFileSize) {
			return
		}
		err := q.db.RunValueLogGC(gcDiscardRatio)
		if err == nil {
			continue
		}
		if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
			q.logger.Warn("value log GC", errField(err))
		}
		return
	}
}

// compactState remembers what the last flatten already reclaimed.
type compactState struct {
	mu sync.Mutex
	// finished is the count of final outcomes and swept bodies at the last
	// flatten.
	finished uint64
	// swept counts bodies deleted by sweepBodies: deletions a flatten
	// reclaims, like final outcomes.
	swept atomic.Uint64
	// at is when the last flatten ran, unix ns.
	at int64
	// expiry is the latest time a log item written by this process expires,
	// unix ns: a flatten after it reclaims every log that was written.
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

// compactIfDrained flattens Badger's LSM tree when no job waits and the
// last flatten is out of date: because jobs finished since, or because log
// items expired since. Badger drops deleted and expired keys only when it
// compacts them into the bottom level, which a sidecar-sized database may not
// reach for a long time on its own, so the disk of a drained backlog would
// otherwise stay taken. While jobs wait it does nothing: rewriting the whole
// tree on every tick would cost more than it gives back.
func (q *Queue) compactIfDrained() {
	if q.stats.depth.Load() != 0 || q.closed.Load() {
		return
	}
	c := &q.compact
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now().UnixNano()
	finished := q.stats.delivered.Load() + q.stats.dead.Load() + q.stats.gone.Load() + q.stats.limited.Load() + c.swept.Load()
	expiry := c.expiry.Load()
	// c.at 0: the first run since the queue opened, which may hold what an
	// earlier process deleted or let expire.
	stale := c.at == 0 || finished != c.finished || (expiry > c.at && now > expiry)
	if !stale {
		return
	}
	// A flatten writes the tables anew before it deletes the old ones.
	if lsm, _ := q.db.Size(); !q.disk.allowRewrite(lsm) {
		return
	}
	if err := q.db.Flatten(2); err != nil {
		q.logger.Warn("compact drained queue", errField(err))
		return
	}
	c.finished, c.at = finished, now
}
