package badgerstore

import (
	"bytes"
	"sync"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

const (
	// lostRetry is how long a job whose claim ended without its outcome recorded (a failed read or
	// commit) waits before it is announced again: its key is still there, possibly behind its
	// destination's cursor, and announcing it at once would spin on a failing disk.
	lostRetry = 30 * time.Second
	// cursorReset is how often a destination's scan starts once from its first key, as a safety net
	// for a job the cursor rules missed (see destState.cursor). Such a scan steps over the
	// tombstones of every job delivered since the last compaction, so it is rare.
	cursorReset = 10 * time.Minute
	// idleForget is how long a destination with no claim, no lost job and no scan keeps its state
	// (its cursor); one seen again after that starts from its first key.
	idleForget = 10 * time.Minute
)

// claims is what the store keeps in memory: which jobs are claimed, the per-destination cursors
// that keep a Claim from wading through the tombstones of delivered jobs, the claims a running
// Claim must not trust its snapshot about, and the jobs a Retry holds. A process that dies loses
// all of it, which is safe: every job key stays in Badger until its outcome is committed.
//
// The one rule every change follows: a job that becomes claimable again (Release, a retrying
// outcome, a Retry, a lost outcome) first ends its claim (end, unhold), then is noted (note: the
// cursor moves back to it), then announced. Noting before the claim ended would let a Claim
// starting in between skip the still-claimed key and move the cursor past it for good.
type claims struct {
	mu      sync.Mutex
	watch   func(dest string, due int64)
	claimed map[string]string // id -> destination
	// held are the jobs a Retry is changing, with how many Retries hold each: not claimed meanwhile.
	held map[string]int
	// released is signalled when a claim ends while a Retry waits for it.
	released *sync.Cond
	// passes are the Claims running now (see pass).
	passes  map[*pass]struct{}
	dests   map[string]*destState
	stopped bool
	// lostRetry and cursorReset are the constants above; tests shorten them.
	lostRetry, cursorReset time.Duration
	lastForget             time.Time
}

// destState is what the store knows about one destination's job keys.
type destState struct {
	// scan serialises the Claims of the destination: low belongs to one pass at a time.
	scan     sync.Mutex
	scanning bool // scan is held (guarded by claims.mu, for forget)
	// cursor is where Claims of this destination start (nil: its first key). Invariant: every
	// unclaimed job key of the destination that has been noted is at or after it. A Claim moves it
	// to the last job it claimed (the keys before are claimed or deleted, and deleted keys are
	// tombstones an iterator would otherwise wade through on every Claim until compaction); note
	// moves it back to a job's due time when that is earlier (a slow commit racing a later one, a
	// Release, a Retry, a clock step).
	cursor []byte
	// low is the lowest key noted since the running Claim took its snapshot (nil: none): such a job
	// may sort before the job the Claim claims, and the snapshot cannot see it, so the Claim may
	// advance the cursor no further than low.
	low []byte
	// resetAt is when the cursor was last reset to the first key (cursorReset).
	resetAt time.Time
	// lost is the earliest due time of a job whose claim ended without its outcome (lostSet); a
	// timer (lostTimer) notes and announces it lostRetry later.
	lost      int64
	lostSet   bool
	lostTimer *time.Timer
	claimedN  int       // claims held on the destination's jobs
	used      time.Time // last note or Claim, for idleForget
}

// pass is one running Claim. ended collects the jobs whose claim ended (or whose Retry hold was
// lifted) since the pass registered, before its snapshot was taken: the snapshot may predate
// their new state, so the pass must not take their keys for due jobs.
type pass struct {
	dest   string
	st     *destState
	cursor []byte
	ended  map[string]struct{}
}

func newClaims() *claims {
	c := &claims{
		claimed:     make(map[string]string),
		held:        make(map[string]int),
		passes:      make(map[*pass]struct{}),
		dests:       make(map[string]*destState),
		lostRetry:   lostRetry,
		cursorReset: cursorReset,
		lastForget:  time.Now(),
	}
	c.released = sync.NewCond(&c.mu)
	return c
}

func (c *claims) setWatch(f func(dest string, due int64)) {
	c.mu.Lock()
	c.watch = f
	c.mu.Unlock()
}

// destLocked returns dest's state, created with its cursor at the first key. c.mu is held.
func (c *claims) destLocked(dest string) *destState {
	st := c.dests[dest]
	if st == nil {
		st = &destState{resetAt: time.Now()}
		c.dests[dest] = st
	}
	st.used = time.Now()
	return st
}

// announce notes that dest has a job due at due, after the commit that made it so, and tells the
// watcher.
func (c *claims) announce(dest string, due int64) {
	c.mu.Lock()
	c.noteLocked(dest, due)
	watch, stopped := c.watch, c.stopped
	c.mu.Unlock()
	if watch != nil && !stopped {
		watch(dest, due)
	}
}

// noteLocked moves dest's cursor back to due and lowers the running pass's low. c.mu is held.
func (c *claims) noteLocked(dest string, due int64) {
	st := c.destLocked(dest)
	k := seekKey(dest, due)
	if st.cursor != nil {
		st.cursor = lowerKey(st.cursor, k)
	}
	if st.low == nil || bytes.Compare(k, st.low) < 0 {
		st.low = k
	}
}

// beginPass registers a Claim of dest before it takes its snapshot, and waits for the
// destination's previous Claim to end.
func (c *claims) beginPass(dest string) *pass {
	c.mu.Lock()
	st := c.destLocked(dest)
	c.mu.Unlock()
	st.scan.Lock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dests[dest] != st {
		// Forgotten while this Claim waited for the scan lock: take it back.
		c.dests[dest] = st
	}
	st.scanning = true
	st.low = nil
	now := time.Now()
	if now.Sub(st.resetAt) > c.cursorReset {
		st.cursor, st.resetAt = nil, now
	}
	p := &pass{dest: dest, st: st, cursor: st.cursor, ended: make(map[string]struct{})}
	c.passes[p] = struct{}{}
	return p
}

// endPass ends what beginPass started.
func (c *claims) endPass(p *pass) {
	c.mu.Lock()
	delete(c.passes, p)
	p.st.scanning = false
	p.st.used = time.Now()
	c.forgetIdleLocked()
	c.mu.Unlock()
	p.st.scan.Unlock()
}

// forgetIdleLocked drops, at most once a minute, the states of destinations idle for idleForget.
// c.mu is held.
func (c *claims) forgetIdleLocked() {
	now := time.Now()
	if now.Sub(c.lastForget) < time.Minute {
		return
	}
	c.lastForget = now
	for dest, st := range c.dests {
		if !st.scanning && st.claimedN == 0 && !st.lostSet && now.Sub(st.used) > idleForget {
			delete(c.dests, dest)
		}
	}
}

// claimableLocked reports whether the pass may take id's key for an unclaimed due job. c.mu is held.
func (c *claims) claimableLocked(p *pass, id string) bool {
	if _, busy := c.claimed[id]; busy {
		return false
	}
	if _, stale := p.ended[id]; stale {
		return false
	}
	return c.held[id] == 0
}

// claimable is claimableLocked for a pass that will not claim the job (its batch is full).
func (c *claims) claimable(p *pass, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.claimableLocked(p, id)
}

// claim claims id for the pass unless it is not claimable.
func (c *claims) claim(p *pass, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || !c.claimableLocked(p, id) {
		return false
	}
	c.claimed[id] = p.dest
	p.st.claimedN++
	return true
}

// isClaimed reports whether id is claimed now.
func (c *claims) isClaimed(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.claimed[id]
	return ok
}

// advance moves the pass's destination cursor to key, the job just claimed: every key the pass
// went over before it is claimed or gone. A job committed after the pass's snapshot may sort
// before key, though: its note is in low (or, if it comes later, moves the cursor back itself),
// so the cursor goes no further than low.
func (c *claims) advance(p *pass, key []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.st.low != nil && bytes.Compare(p.st.low, key) < 0 {
		key = p.st.low
	}
	p.st.cursor = key
}

// end ends the claim of id; the caller then notes the job if it is due again.
func (c *claims) end(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked(id)
}

func (c *claims) endLocked(id string) {
	dest, ok := c.claimed[id]
	if !ok {
		return
	}
	delete(c.claimed, id)
	if st := c.dests[dest]; st != nil {
		st.claimedN--
	}
	for p := range c.passes {
		p.ended[id] = struct{}{}
	}
	if c.held[id] > 0 {
		c.released.Broadcast()
	}
}

// release ends the claims of jobs that were not attempted and announces them due as before.
func (c *claims) release(jobs []store.Job) {
	for _, j := range jobs {
		if !c.isClaimed(j.ID) {
			continue // not claimed (a second Release): nothing to give back
		}
		c.end(j.ID)
		c.announce(j.Dest, j.Due)
	}
}

// lose ends the claim of a job whose outcome could not be recorded (or whose record could not be
// read): its key stays where it was, possibly behind the cursor, and is noted and announced again
// lostRetry later.
func (c *claims) lose(id, dest string, due int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked(id)
	c.loseLocked(dest, due)
}

func (c *claims) loseLocked(dest string, due int64) {
	st := c.destLocked(dest)
	if !st.lostSet || due < st.lost {
		st.lost, st.lostSet = due, true
	}
	if st.lostTimer == nil && !c.stopped {
		st.lostTimer = time.AfterFunc(c.lostRetry, func() { c.retryLost(dest, st) })
	}
}

// retryLost notes and announces the earliest lost job of dest.
func (c *claims) retryLost(dest string, st *destState) {
	c.mu.Lock()
	st.lostTimer = nil
	if !st.lostSet || c.stopped {
		c.mu.Unlock()
		return
	}
	due := st.lost
	st.lostSet = false
	c.mu.Unlock()
	c.announce(dest, due)
}

// hold keeps id from being claimed and waits until it is not claimed: Retry changes the state in
// between, and Record, which writes an outcome over the state its Claim read without reading it
// again, never has an outcome of the job to write meanwhile. It fails with ErrClosed when the
// store closes while it waits.
func (c *claims) hold(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held[id]++
	for {
		if c.stopped {
			c.unholdLocked(id)
			return store.ErrClosed
		}
		if _, claimed := c.claimed[id]; !claimed {
			return nil
		}
		c.released.Wait()
	}
}

// unhold ends a hold. A Claim running now may have read the state from before the Retry's change,
// so it may not take the job (pass.ended).
func (c *claims) unhold(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unholdLocked(id)
}

func (c *claims) unholdLocked(id string) {
	if c.held[id]--; c.held[id] <= 0 {
		delete(c.held, id)
	}
	for p := range c.passes {
		p.ended[id] = struct{}{}
	}
}

// stop ends the timers and wakes every waiting Retry: the store is closing.
func (c *claims) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	for _, st := range c.dests {
		if st.lostTimer != nil {
			st.lostTimer.Stop()
			st.lostTimer = nil
		}
	}
	c.released.Broadcast()
}
