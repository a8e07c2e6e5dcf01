package queue

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

const (
	// maxScanPerDestination bounds how many keys of one destination a pass
	// looks at. Only claimed (in-flight) or stale keys are skipped within a
	// destination, and there are about PerDestination of those.
	maxScanPerDestination = 1024
	// lostRetry is how often passes look again, from the earliest such job,
	// at jobs whose attempt ended without its outcome being recorded (a
	// failed read or commit): their keys sit behind the cursor.
	lostRetry = 30 * time.Second
	// cursorReset is how often every destination is scanned from its first
	// key once, as a safety net for a job the cursor rules missed (see
	// destState.cursor). Such a scan steps over the tombstones of every job
	// delivered since the last compaction, so it is rare.
	cursorReset = 10 * time.Minute
	// idleForget is how long a destination with no job and no attempt keeps
	// its state (and cursor); a destination seen again after that starts from
	// its first key.
	idleForget = 10 * time.Minute
	// idlePoll is the longest the scheduler sleeps without being woken; wakes
	// normally come from Enqueue, Retry, Configure and finished attempts.
	idlePoll = time.Second
)

// job is a claimed due job: the key it was found under.
type job struct {
	id   string
	due  int64
	dest string
}

// readyJob is a job claimed ahead of a free slot of its destination, with
// its record read: a worker that finishes an attempt of the destination
// takes it at once instead of waiting for a pass.
type readyJob struct {
	j   job
	rec record
	// reload: the body was too big to hold while waiting (maxHeldBody)
	// and is read again when the attempt starts.
	reload bool
}

// maxHeldBody is the largest body a ready job keeps
// in memory; bigger ones are read again when needed, so what waits beside
// the attempts in flight stays small whatever max_body allows.
const maxHeldBody = 64 << 10

// destState is what the scheduler knows about one destination's jobs.
type destState struct {
	// ready are jobs claimed ahead, in due order (at most PerDestination).
	ready []readyJob
	// nextDue is a lower bound of the earliest unclaimed job's due time: the
	// destination is scanned only once it is reached (and not idle).
	nextDue int64
	// idle: a pass found no unclaimed job at or after the cursor. The state
	// is kept for its cursor; a note makes the destination due again.
	idle      bool
	idleSince time.Time
	// version changes on every note, so a pass that read an older snapshot
	// does not settle (forget) jobs added while it ran.
	version uint64
	// cursor is where scans of this destination start (nil: its first key).
	// Invariant: every unclaimed job key of the destination that has been
	// noted is at or after it. A pass moves it to the job it just claimed
	// (keys before are in flight or deleted, and deleted keys are tombstones
	// an iterator would otherwise wade through on every pass until
	// compaction); note moves it back to a new job's due time when that is
	// earlier (a slow commit racing a later one, a Retry, a clock step).
	// Seeking from it instead of from the first key is what keeps a pass
	// cheap on an instance that has delivered many jobs.
	cursor []byte
	// low is the lowest key noted since the running pass took this
	// destination as a candidate (nil: none): a job committed after the
	// pass's snapshot may sort before the job the pass claims, so the pass
	// may advance the cursor no further than low.
	low []byte
	// lost is the earliest due time of a job whose attempt ended without
	// its outcome recorded (lostSet): the job key is still there, behind
	// the cursor. The next lost-retry round moves the cursor back to it.
	lost    int64
	lostSet bool
	// breaker holds the destination back while it answers nothing
	// (breaker.go).
	breaker breaker
}

// scheduler starts attempts for due jobs within Workers in all and
// PerDestination per destination. Jobs are kept in Badger per destination in
// due order, and the scheduler visits each destination that has due jobs and
// a free slot: a saturated (slow, hanging) destination is not even looked at,
// so it can never hold up the others, and its backlog costs nothing to skip.
//
// A slot (Workers, PerDestination) is held for the HTTP exchange; the claim
// on the job (claimed) is held until its outcome is committed, which the
// committer (commit.go) does for many attempts in one transaction.
//
// Claims live only in memory: a process that dies mid-attempt leaves the job
// key in place, so the job is due again when the queue reopens.
type scheduler struct {
	q      *Queue
	wakeCh chan struct{}

	mu       sync.Mutex
	claimed  map[string]struct{}
	perDest  map[string]int
	dests    map[string]*destState
	inFlight int
	// readyCount is the number of jobs in every destState.ready (at most
	// Workers): claimed, not yet started, holding no slot.
	readyCount int
	attempts   sync.WaitGroup
	// finishedInPass holds the jobs whose claim was dropped since the
	// running pass started (passing): the pass's snapshot may predate their
	// outcome, so it must not take their keys for due jobs.
	passing        bool
	finishedInPass map[string]struct{}
	// held are the jobs a Retry is changing (holdForRetry), with how many
	// Retries hold each: they are not claimed meanwhile.
	held map[string]int
	// released is signalled when a claim is dropped while a Retry waits.
	released *sync.Cond
}

func newScheduler(q *Queue) *scheduler {
	s := &scheduler{
		q:       q,
		wakeCh:  make(chan struct{}, 1),
		claimed: make(map[string]struct{}),
		perDest: make(map[string]int),
		dests:   make(map[string]*destState),

		finishedInPass: make(map[string]struct{}),
		held:           make(map[string]int),
	}
	s.released = sync.NewCond(&s.mu)
	return s
}

// holdForRetry keeps the job of id from being claimed and waits until it is
// not claimed (a job claimed ahead is given back at once; one being
// attempted is waited for, at most its timeout and its commit). Retry
// changes the state in between, and the committer, which writes an outcome
// over the state its pass read without reading it again, never has an
// outcome of the job to write meanwhile. The returned release ends the hold;
// a pass running then may have read the state from before the change, so
// it may not take the job (finishedInPass).
func (s *scheduler) holdForRetry(id string) (release func()) {
	s.mu.Lock()
	s.held[id]++
	for {
		if _, claimed := s.claimed[id]; !claimed {
			break
		}
		if s.takeReady(id) {
			// What finish does, under the lock already held.
			delete(s.claimed, id)
			s.attempts.Done()
			break
		}
		s.released.Wait()
	}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		if s.held[id]--; s.held[id] <= 0 {
			delete(s.held, id)
		}
		if s.passing {
			s.finishedInPass[id] = struct{}{}
		}
		s.mu.Unlock()
		s.wake()
	}
}

// takeReady removes the job of id from its destination's ready jobs, if it
// is one, and gives it back (giveBack); the caller drops its claim. s.mu is
// held.
func (s *scheduler) takeReady(id string) bool {
	for _, st := range s.dests {
		for i, r := range st.ready {
			if r.j.id == id {
				st.ready = slices.Delete(st.ready, i, i+1)
				s.readyCount--
				s.giveBack(st, r.j)
				return true
			}
		}
	}
	return false
}

// wake asks for a pass soon without ever blocking the caller. Wakes that
// arrive while a pass runs coalesce into one more pass.
func (s *scheduler) wake() {
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
}

// seekKey is the first possible key of dest's jobs due at due.
func seekKey(dest string, due int64) []byte {
	return binary.BigEndian.AppendUint64(jobDestPrefix(dest), uint64(due))
}

// lowerKey returns the lower of two seek positions, nil being the lowest.
func lowerKey(a, b []byte) []byte {
	if a == nil || b == nil {
		return nil
	}
	if bytes.Compare(a, b) <= 0 {
		return a
	}
	return b
}

// note tells the scheduler that dest has a job due at due. It is called
// after the commit that wrote the job.
func (s *scheduler) note(dest string, due int64) {
	cfg := s.q.config()
	s.mu.Lock()
	st := s.dests[dest]
	if st == nil {
		// Unknown destination: start from its first key once.
		st = &destState{nextDue: due}
		s.dests[dest] = st
	}
	if st.idle {
		st.idle = false
		st.nextDue = due
	}
	st.nextDue = min(st.nextDue, due)
	st.version++
	k := seekKey(dest, due)
	if st.cursor != nil {
		st.cursor = lowerKey(st.cursor, k)
	}
	if st.low == nil || bytes.Compare(k, st.low) < 0 {
		st.low = k
	}
	// A saturated destination or pool is looked at again when a slot frees.
	useful := s.perDest[dest] < cfg.PerDestination && s.inFlight < cfg.Workers
	s.mu.Unlock()
	if useful {
		s.wake()
	}
}

// lose records that j's attempt ended without its outcome: its key is still
// in place, behind the cursor, and is looked at again within lostRetry
// (not at once, which would spin on a failing database).
func (s *scheduler) lose(j job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.dests[j.dest]
	if st == nil {
		st = &destState{nextDue: j.due}
		s.dests[j.dest] = st
		return // no cursor yet: the first pass starts from the first key
	}
	if !st.lostSet || j.due < st.lost {
		st.lost, st.lostSet = j.due, true
	}
}

// discover finds every destination that has jobs, jumping from one
// destination's range to the next: one seek per destination, however long
// the backlog.
func (s *scheduler) discover() error {
	return s.q.db.View(func(txn *badger.Txn) error {
		it := keyIterator(txn, prefixJob)
		defer it.Close()
		for it.Rewind(); it.Valid(); {
			dest, due, _, err := parseJobKey(it.Item().Key())
			if err != nil {
				it.Next()
				continue
			}
			s.note(dest, due)
			it.Seek(jobDestEnd(dest))
		}
		return nil
	})
}

func (s *scheduler) run() {
	defer s.q.bgDone.Done()
	defer s.dropReady()
	if err := s.discover(); err != nil {
		s.q.logger.Error("find queued jobs", errField(err))
	}
	timer := time.NewTimer(idlePoll)
	defer timer.Stop()
	lastLost, lastReset := time.Now(), time.Now()
	for {
		if time.Since(lastReset) > cursorReset {
			s.resetCursors(true)
			lastReset, lastLost = time.Now(), time.Now()
		} else if time.Since(lastLost) > lostRetry {
			s.resetCursors(false)
			lastLost = time.Now()
		}
		select {
		case <-s.q.closing:
			return
		default:
		}
		cfg := s.q.config()
		wait := idlePoll
		switch {
		case cfg.Paused:
			s.dropReady()
		case !s.q.disk.allowBookkeeping():
			// No attempt starts whose outcome the disk could not take;
			// look again soon, so delivery resumes once space returns.
			s.dropReady()
			wait = diskRecheck
		default:
			wait = s.pass(cfg)
		}
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-s.q.closing:
			return
		case <-s.wakeCh:
		case <-timer.C:
		}
	}
}

type claimResult int

const (
	claimOK       claimResult = iota
	claimBusy                 // this job is being attempted
	claimDestFull             // its destination has PerDestination attempts running
	claimFull                 // Workers attempts are running
)

// candidate is a destination a pass will scan, with the version and cursor it had.
type candidate struct {
	dest    string
	version uint64
	cursor  []byte
}

// pass starts attempts for due jobs and returns how long the scheduler may
// sleep if nothing wakes it.
func (s *scheduler) pass(cfg *Config) time.Duration {
	now := cfg.Now().UnixNano()
	cands := s.candidates(cfg, now)
	if len(cands) == 0 {
		return s.nextWake(now)
	}
	defer s.endPass()
	err := s.q.db.View(func(txn *badger.Txn) error {
		// Only keys are needed: a job's value is empty.
		it := keyIterator(txn, prefixJob)
		defer it.Close()
		rd := newPassReader(txn)
		defer rd.close()
		for _, c := range cands {
			if s.scanDestination(cfg, rd, it, c, now) == claimFull {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		s.q.logger.Error("scan due jobs", errField(err))
		return idlePoll
	}
	return s.nextWake(now)
}

// maxCommitting bounds the attempts whose outcome waits for its commit.
func maxCommitting(cfg *Config) int { return 2 * cfg.Workers }

// committing is how many claimed jobs are neither running nor ready: their
// outcome waits for its commit. s.mu is held.
func (s *scheduler) committing() int { return len(s.claimed) - s.inFlight - s.readyCount }

// candidates are the destinations with jobs due by now and a free slot.
func (s *scheduler) candidates(cfg *Config, now int64) []candidate {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight >= cfg.Workers || s.committing() >= maxCommitting(cfg) {
		return nil
	}
	var cands []candidate
	defer func() {
		if len(cands) > 0 {
			s.passing = true
		}
	}()
	wall := time.Now().UnixNano()
	for dest, st := range s.dests {
		if st.breaker.waiting(wall) || st.breaker.open() && s.perDest[dest] > 0 {
			continue // cooling down, or its probe is running
		}
		if s.perDest[dest] < cfg.PerDestination && (len(st.ready) > 0 || !st.idle && st.nextDue <= now) {
			st.low = nil
			cands = append(cands, candidate{dest, st.version, st.cursor})
		}
	}
	// Destinations with no attempt running first: when Workers is what
	// limits, they get the free slots before busy ones take more.
	slices.SortStableFunc(cands, func(a, b candidate) int { return s.perDest[a.dest] - s.perDest[b.dest] })
	return cands
}

// endPass ends what candidates started for a pass.
func (s *scheduler) endPass() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passing = false
	clear(s.finishedInPass)
}

// scanDestination claims due jobs of one destination in due order until it
// or the pool is saturated, and records what it learnt about the range.
func (s *scheduler) scanDestination(cfg *Config, rd *passReader, it *badger.Iterator, c candidate, now int64) claimResult {
	if s.startReady(cfg, c.dest) == claimFull {
		return claimFull
	}
	prefix := jobDestPrefix(c.dest)
	start := prefix
	if c.cursor != nil {
		start = c.cursor
	}
	scanned := 0
	for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
		dest, due, id, err := parseJobKey(it.Item().Key())
		if err != nil {
			continue
		}
		if due > now {
			s.settle(c, due, true)
			return claimOK
		}
		if scanned++; scanned > maxScanPerDestination {
			return claimOK // more to see next pass; nextDue stays due
		}
		j := job{id: id, due: due, dest: dest}
		switch r := s.claim(cfg, j); r {
		case claimFull, claimDestFull:
			switch s.claimAhead(cfg, j) {
			case claimBusy:
				continue
			case claimOK:
				s.advance(c, it.Item().KeyCopy(nil))
				if rec, ok := s.q.loadDue(rd, j); ok {
					s.pushReady(j, rec)
				} else {
					s.unready(j)
				}
				continue
			}
			return r
		case claimOK:
			s.advance(c, it.Item().KeyCopy(nil))
			if rec, ok := s.q.loadDue(rd, j); ok {
				go s.attempt(readyJob{j: j, rec: rec})
			} else {
				s.freeSlot(j)
				s.finish(j)
			}
		}
	}
	s.settle(c, 0, false)
	return claimOK
}

// settle records that c.dest has no unclaimed due job left in the pass's
// snapshot: its next job is due at next (hasNext), or it has none at or
// after the cursor, and so (by the cursor's invariant) none at all. If a note
// arrived since the candidate was taken, the snapshot may miss a job, so the
// state is left for the next pass.
func (s *scheduler) settle(c candidate, next int64, hasNext bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.dests[c.dest]
	if st == nil || st.version != c.version {
		return
	}
	if hasNext {
		st.nextDue = next
		return
	}
	// Jobs in flight note their destination again if they are rescheduled.
	// The state stays, with its cursor, so the next job of this destination
	// is looked for from there rather than from the first key.
	st.idle = true
	st.idleSince = time.Now()
}

// advance moves c.dest's cursor to key, the job just claimed: every key the
// pass passed over before it was claimed (in flight) or is gone. A job
// committed after the pass's snapshot may sort before key, though, and the
// snapshot cannot see it: its note is in low (or, if it comes after this,
// moves the cursor back itself), so the cursor goes no further than low.
func (s *scheduler) advance(c candidate, key []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.dests[c.dest]
	if st == nil {
		return
	}
	if st.low != nil && bytes.Compare(st.low, key) < 0 {
		key = st.low
	}
	st.cursor = key
}

// resetCursors moves cursors back for the next passes: to the earliest job
// whose outcome was lost (all false), or to each destination's first key
// (all), and forgets destinations idle for long.
func (s *scheduler) resetCursors(all bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for dest, st := range s.dests {
		if st.idle && s.perDest[dest] == 0 && len(st.ready) == 0 && !st.lostSet && time.Since(st.idleSince) > idleForget {
			delete(s.dests, dest)
			continue
		}
		switch {
		case all:
			st.cursor = nil
			st.nextDue = 0
		case st.lostSet:
			if st.cursor != nil {
				st.cursor = lowerKey(st.cursor, seekKey(dest, st.lost))
			}
			if st.idle {
				st.nextDue = st.lost
			}
			st.nextDue = min(st.nextDue, st.lost)
		default:
			continue
		}
		st.idle = false
		st.lostSet = false
		st.version++
	}
}

// nextWake is how long until the earliest known due time (at most idlePoll).
func (s *scheduler) nextWake(now int64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait := idlePoll
	wall := time.Now().UnixNano()
	for dest, st := range s.dests {
		if st.breaker.waiting(wall) {
			if !st.idle {
				wait = min(wait, time.Duration(st.breaker.until-wall))
			}
			continue
		}
		if len(st.ready) > 0 && s.perDest[dest] == 0 {
			wait = min(wait, 10*time.Millisecond)
		}
		if st.idle {
			continue
		}
		if st.nextDue > now {
			wait = min(wait, time.Duration(st.nextDue-now))
		} else if s.perDest[dest] == 0 {
			// Due but not reached (pool full or scan bound): a release or
			// the next pass picks it up.
			wait = min(wait, 10*time.Millisecond)
		}
	}
	return wait
}

// claim reserves a worker slot for j unless the pool or j's destination is
// saturated or j is already being attempted.
func (s *scheduler) claim(cfg *Config, j job) claimResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight >= cfg.Workers || s.committing() >= maxCommitting(cfg) {
		return claimFull
	}
	if _, busy := s.claimed[j.id]; busy {
		return claimBusy
	}
	if _, stale := s.finishedInPass[j.id]; stale {
		return claimBusy
	}
	if s.held[j.id] > 0 {
		return claimBusy
	}
	limit := cfg.PerDestination
	if st := s.dests[j.dest]; st != nil && st.breaker.open() {
		if st.breaker.waiting(time.Now().UnixNano()) {
			return claimDestFull // opened while this pass ran
		}
		limit = 1 // one probe at a time
	}
	if s.perDest[j.dest] >= limit {
		return claimDestFull
	}
	s.claimed[j.id] = struct{}{}
	s.perDest[j.dest]++
	s.inFlight++
	s.attempts.Add(1)
	return claimOK
}

// claimAhead claims j for its destination's ready jobs, unless those or all
// ready jobs are at their bound (claimFull) or j is being attempted.
func (s *scheduler) claimAhead(cfg *Config, j job) claimResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.claimed[j.id]; busy {
		return claimBusy
	}
	if _, stale := s.finishedInPass[j.id]; stale {
		return claimBusy
	}
	if s.held[j.id] > 0 {
		return claimBusy
	}
	st := s.dests[j.dest]
	if st == nil || st.breaker.open() || s.readyCount >= cfg.Workers || len(st.ready) >= cfg.PerDestination || s.committing() >= maxCommitting(cfg) {
		return claimFull
	}
	s.claimed[j.id] = struct{}{}
	s.readyCount++
	s.attempts.Add(1)
	return claimOK
}

// pushReady queues a job claimed ahead, with its record.
//
// A breaker that opened since claimAhead (an attempt of the destination got
// no answer while the pass read the record) gives the job back instead:
// ready jobs wait for nothing while it is open.
func (s *scheduler) pushReady(j job, rec record) {
	s.mu.Lock()
	st := s.dests[j.dest]
	if st.breaker.open() {
		s.giveBack(st, j)
		s.readyCount--
		s.mu.Unlock()
		s.finish(j)
		return
	}
	r := readyJob{j: j, rec: rec}
	if len(rec.Body) > maxHeldBody && !rec.bodyInState {
		r.rec.Body, r.reload = nil, true
	}
	st.ready = append(st.ready, r)
	s.mu.Unlock()
}

// giveBack makes a claimed job that will not be attempted now due again
// for the next passes: its key is behind the cursor, which moves back to it,
// and a pass running now may not advance the cursor past it (low). s.mu is
// held; the caller drops the claim (finish) after unlocking.
func (s *scheduler) giveBack(st *destState, j job) {
	k := seekKey(j.dest, j.due)
	if st.cursor != nil {
		st.cursor = lowerKey(st.cursor, k)
	}
	if st.low == nil || bytes.Compare(k, st.low) < 0 {
		st.low = k
	}
	if st.idle {
		st.idle = false
		st.nextDue = j.due
	}
	st.nextDue = min(st.nextDue, j.due)
	st.version++
}

// unready drops the claim of a job claimed ahead that is not to be attempted.
func (s *scheduler) unready(j job) {
	s.mu.Lock()
	s.readyCount--
	s.mu.Unlock()
	s.finish(j)
}

// startReady starts dest's ready jobs while it and the pool have free slots.
func (s *scheduler) startReady(cfg *Config, dest string) claimResult {
	for {
		s.mu.Lock()
		st := s.dests[dest]
		switch {
		case st == nil || len(st.ready) == 0 || st.breaker.open() || s.perDest[dest] >= cfg.PerDestination:
			s.mu.Unlock()
			return claimOK
		case s.inFlight >= cfg.Workers:
			s.mu.Unlock()
			return claimFull
		}
		r := st.ready[0]
		st.ready = st.ready[1:]
		s.readyCount--
		s.perDest[dest]++
		s.inFlight++
		s.mu.Unlock()
		go s.attempt(r)
	}
}

// next is what a worker does once j's HTTP exchange is over: it keeps its
// slot for the destination's next ready job, if there is one and the
// limits (which Configure may have lowered) allow, or gives the slot back.
func (s *scheduler) next(j job) (readyJob, bool) {
	cfg := s.q.config()
	diskOK := s.q.disk.allowBookkeeping() // may measure the disk: not under s.mu
	s.mu.Lock()
	if st := s.dests[j.dest]; st != nil && len(st.ready) > 0 && !st.breaker.open() && !cfg.Paused && !s.q.closed.Load() &&
		diskOK && s.perDest[j.dest] <= cfg.PerDestination && s.inFlight <= cfg.Workers {
		r := st.ready[0]
		st.ready = st.ready[1:]
		s.readyCount--
		s.mu.Unlock()
		return r, true
	}
	s.mu.Unlock()
	s.freeSlot(j)
	return readyJob{}, false
}

// dropReady gives up every ready job (delivery paused, scheduler stopping).
// Their keys are behind the cursors, which move back to them.
func (s *scheduler) dropReady() { s.dropReadyWhere(func(string) bool { return true }) }

// dropReadyOf gives up dest's ready jobs (its breaker opened).
func (s *scheduler) dropReadyOf(dest string) {
	s.dropReadyWhere(func(d string) bool { return d == dest })
}

func (s *scheduler) dropReadyWhere(match func(dest string) bool) {
	var dropped []job
	s.mu.Lock()
	for dest, st := range s.dests {
		if !match(dest) {
			continue
		}
		for _, r := range st.ready {
			dropped = append(dropped, r.j)
			s.giveBack(st, r.j)
		}
		s.readyCount -= len(st.ready)
		st.ready = nil
	}
	s.mu.Unlock()
	for _, j := range dropped {
		s.finish(j)
	}
}

// freeSlot gives back j's worker slot once its HTTP exchange is over; the
// job itself stays claimed until finish.
func (s *scheduler) freeSlot(j job) {
	s.mu.Lock()
	if s.perDest[j.dest]--; s.perDest[j.dest] <= 0 {
		delete(s.perDest, j.dest)
	}
	s.inFlight--
	s.mu.Unlock()
	s.wake()
}

// finish drops j's claim after its outcome is committed (or the attempt
// gave up), so a new pass can never see the job's old key while it is
// unclaimed and not yet replaced.
func (s *scheduler) finish(j job) {
	s.mu.Lock()
	delete(s.claimed, j.id)
	if s.passing {
		s.finishedInPass[j.id] = struct{}{}
	}
	if s.held[j.id] > 0 {
		s.released.Broadcast()
	}
	s.mu.Unlock()
	s.attempts.Done()
	s.wake()
}

func (s *scheduler) inFlightCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight
}

// waitIdle waits until every started attempt has finished and been recorded.
func (s *scheduler) waitIdle() { s.attempts.Wait() }
