package queue

import (
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

const (
	// maxScanPerDestination bounds how many keys of one destination a pass
	// looks at. Only claimed (in-flight) or stale keys are skipped within a
	// destination, and there are about PerDestination of those.
	maxScanPerDestination = 1024
	// cursorReset is how often passes start each destination from its
	// first key again, to find a job whose outcome could not be recorded (or
	// one written under a clock that stepped back).
	cursorReset = 30 * time.Second
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

// destState is what the scheduler knows about one destination's jobs.
type destState struct {
	// nextDue is a lower bound of the earliest job's due time: the
	// destination is scanned only once it is reached.
	nextDue int64
	// version changes on every note, so a pass that read an older snapshot
	// does not forget jobs added while it ran.
	version uint64
	// cursor is the key of the last job claimed from this destination. Keys
	// before it are in flight or deleted (and deleted keys are tombstones an
	// iterator would otherwise wade through on every pass until compaction),
	// while new jobs are always due at or after the time they are written,
	// so they sort after it. Reset now and then as a safety net.
	cursor []byte
}

// scheduler starts attempts for due jobs within Workers in all and
// PerDestination per destination. Jobs are kept in Badger per destination in
// due order, and the scheduler visits each destination that has due jobs and
// a free slot: a saturated (slow, hanging) destination is not even looked at,
// so it can never hold up the others, and its backlog costs nothing to skip.
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
	attempts sync.WaitGroup
}

func newScheduler(q *Queue) *scheduler {
	return &scheduler{
		q:       q,
		wakeCh:  make(chan struct{}, 1),
		claimed: make(map[string]struct{}),
		perDest: make(map[string]int),
		dests:   make(map[string]*destState),
	}
}

// wake asks for a pass soon without ever blocking the caller.
func (s *scheduler) wake() {
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
}

// note tells the scheduler that dest has a job due at due. It is called
// after the commit that wrote the job.
func (s *scheduler) note(dest string, due int64) {
	s.mu.Lock()
	st := s.dests[dest]
	if st == nil {
		st = &destState{nextDue: due}
		s.dests[dest] = st
	}
	st.nextDue = min(st.nextDue, due)
	st.version++
	if st.cursor != nil {
		// A job can be committed with a due time before the cursor: Enqueue
		// takes its time before its commit, so a concurrent Enqueue that
		// started later can commit, be claimed and move the cursor first (an
		// operator's Retry or a clock step do the same). Scanning from the
		// cursor would skip that job, and once the destination looked empty
		// nothing would ever scan it again.
		if _, cursorDue, _, err := parseJobKey(st.cursor); err != nil || cursorDue >= due {
			st.cursor = nil
		}
	}
	s.mu.Unlock()
	s.wake()
}

// discover finds every destination that has jobs, jumping from one
// destination's range to the next: one seek per destination, however long
// the backlog.
func (s *scheduler) discover() error {
	return s.q.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefixJob
		it := txn.NewIterator(opts)
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
	if err := s.discover(); err != nil {
		s.q.logger.Error("find queued jobs", errField(err))
	}
	timer := time.NewTimer(idlePoll)
	defer timer.Stop()
	lastReset := time.Now()
	for {
		if time.Since(lastReset) > cursorReset {
			s.resetCursors()
			lastReset = time.Now()
		}
		select {
		case <-s.q.closing:
			return
		default:
		}
		cfg := s.q.config()
		wait := idlePoll
		if !cfg.Paused {
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
	err := s.q.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefixJob
		it := txn.NewIterator(opts)
		defer it.Close()
		for _, c := range cands {
			if s.scanDestination(cfg, it, c, now) == claimFull {
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

// candidates are the destinations with jobs due by now and a free slot.
func (s *scheduler) candidates(cfg *Config, now int64) []candidate {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight >= cfg.Workers {
		return nil
	}
	var cands []candidate
	for dest, st := range s.dests {
		if st.nextDue <= now && s.perDest[dest] < cfg.PerDestination {
			cands = append(cands, candidate{dest, st.version, st.cursor})
		}
	}
	return cands
}

// scanDestination claims due jobs of one destination in due order until it
// or the pool is saturated, and records what it learnt about the range.
func (s *scheduler) scanDestination(cfg *Config, it *badger.Iterator, c candidate, now int64) claimResult {
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
			return r
		case claimOK:
			s.advance(c, it.Item().KeyCopy(nil))
			go s.attempt(j)
		}
	}
	s.settle(c, 0, false)
	return claimOK
}

// settle records that c.dest has no unclaimed due job left in the pass's
// snapshot: its next job is due at next (hasNext), or it has none at all.
// If a note arrived since the candidate was taken, the snapshot may miss a
// job, so the state is left for the next pass.
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
	if c.cursor != nil {
		// Nothing after the cursor; before it there may still be a job a
		// cursor skipped. The destination stays due and the next pass looks
		// from its start before forgetting it.
		st.cursor = nil
		return
	}
	// Jobs in flight note their destination again if they are rescheduled.
	delete(s.dests, c.dest)
}

// advance moves c.dest's cursor to key, the job just claimed, unless a note
// arrived since the pass took c: that note may have rewound the cursor for a
// job this pass's snapshot cannot see, and moving past it would skip the job.
func (s *scheduler) advance(c candidate, key []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.dests[c.dest]; st != nil && st.version == c.version {
		st.cursor = key
	}
}

// resetCursors makes the next passes scan every destination from its start.
func (s *scheduler) resetCursors() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.dests {
		st.cursor = nil
	}
}

// nextWake is how long until the earliest known due time (at most idlePoll).
func (s *scheduler) nextWake(now int64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait := idlePoll
	for dest, st := range s.dests {
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
	if s.inFlight >= cfg.Workers {
		return claimFull
	}
	if _, busy := s.claimed[j.id]; busy {
		return claimBusy
	}
	if s.perDest[j.dest] >= cfg.PerDestination {
		return claimDestFull
	}
	s.claimed[j.id] = struct{}{}
	s.perDest[j.dest]++
	s.inFlight++
	s.attempts.Add(1)
	return claimOK
}

// release frees j's slot after its outcome is committed, so a new pass can
// never see the job's old key while it is unclaimed.
func (s *scheduler) release(j job) {
	s.mu.Lock()
	delete(s.claimed, j.id)
	if s.perDest[j.dest]--; s.perDest[j.dest] <= 0 {
		delete(s.perDest, j.dest)
	}
	s.inFlight--
	s.mu.Unlock()
	s.attempts.Done()
	s.wake()
}

func (s *scheduler) inFlightCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight
}

// waitIdle waits until every started attempt has finished.
func (s *scheduler) waitIdle() { s.attempts.Wait() }
