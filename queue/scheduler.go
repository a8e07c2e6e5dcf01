package queue

import (
	"slices"
	"sync"
	"time"

	"github.com/sidehook/sidehook/queue/store"
	"go.uber.org/zap"
)

const (
	// idlePoll is the longest the scheduler sleeps without being woken; wakes normally come from
	// the store's announcements, finished attempts, recorded outcomes and Configure.
	idlePoll = time.Second
	// diskRecheck is how often the scheduler looks whether the store is writable again.
	diskRecheck = 100 * time.Millisecond
	// failureBackoff is how long a destination is left alone after its Claim failed or its
	// outcomes could not be recorded, so a failing store is not spun on.
	failureBackoff = 5 * time.Second
)

// scheduler starts attempts of due jobs within Workers in all and PerDestination per destination.
// It visits only destinations that are due and have room (a free slot, or room for jobs claimed
// ahead): a saturated destination costs a look at its counters and nothing else, so it can never
// hold up the others.
//
// Invariants, each with a test named after it (invariants_test.go unless said):
//   - at most PerDestination attempts of one destination, and Workers in all, run at once
//     (TestNeverMoreThanPerDestinationAttemptsAtOnce, TestNeverMoreThanWorkersAttemptsAtOnce);
//   - a saturated destination is never visited for work, so it delays no other
//     (TestASaturatedDestinationNeverDelaysAnother, dispatch_test.go), and while Workers limits a
//     busy destination yields its slots to another (TestABusyDestinationYieldsWorkersToAnother);
//   - a job claimed is in exactly one place until its claim ends: a destination's ahead list, a
//     worker's hands, or the recorder's queue; claimed-ahead jobs go back to the store when
//     delivery pauses, the store is not writable, the breaker opens or a Retry wants them
//     (TestClaimedAheadJobsAreReleasedWhenPaused, TestJobClaimedAheadIsGivenBackWhenTheBreakerOpens,
//     TestRetryOfAReadyJobDoesNotWait);
//   - an attempt's slot is freed (or handed to the destination's next job) before its outcome goes
//     to the recorder, so an outcome recorded never counts as in flight
//     (TestARecordedOutcomeNeverCountsAsInFlight);
//   - claims stop while maxCommitting outcomes wait for their Record
//     (TestClaimsStopWhileOutcomesWaitForTheirRecord);
//   - no attempt starts while the store is not writable (TestNoAttemptStartsWhileTheStoreIsNotWritable);
//   - Close returns only once every attempt in flight is recorded (TestCloseWaitsForAttemptsInFlight).
type scheduler struct {
	q        *Queue
	wakeCh   chan struct{}
	attempts sync.WaitGroup // workers running (attempt.go)

	mu    sync.Mutex
	dests map[string]*destination
	// running counts attempts in flight, ahead the jobs claimed ahead in every destination and
	// committing the outcomes handed to the recorder and not yet recorded.
	running    int
	ahead      int
	aheadBytes int // of the bodies of the jobs claimed ahead (maxAheadBytes)
	committing int
	// held are the ids a Retry is changing, with how many Retries hold each: a Claim that returns
	// one gives it back at once, so the store's Retry never waits for a claim taken meanwhile.
	held map[string]int
}

func newScheduler(q *Queue) *scheduler {
	return &scheduler{q: q, wakeCh: make(chan struct{}, 1), dests: make(map[string]*destination), held: make(map[string]int)}
}

// maxCommitting bounds the outcomes waiting for their Record: past it nothing is claimed.
func maxCommitting(cfg *Config) int { return 2 * cfg.Workers }

// wake asks for a pass soon without ever blocking the caller. Wakes that arrive while a pass runs
// coalesce into one more pass.
func (s *scheduler) wake() {
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
}

// run is the scheduler's loop, until closing is closed: a pass whenever something may have
// changed (a wake) or a known due time or cooldown is reached.
func (s *scheduler) run(closing <-chan struct{}) {
	defer s.releaseAhead()
	timer := time.NewTimer(idlePoll)
	defer timer.Stop()
	for {
		select {
		case <-closing:
			return
		default:
		}
		cfg := s.q.config()
		wait := idlePoll
		switch {
		case cfg.Paused:
			s.releaseAhead()
		case !s.q.st.Writable():
			// No attempt starts whose outcome could not be recorded; look again soon, so
			// delivery resumes once the store can write.
			s.releaseAhead()
			wait = diskRecheck
		default:
			wait = s.pass(cfg)
		}
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-closing:
			return
		case <-s.wakeCh:
		case <-timer.C:
		}
	}
}

// pass visits the destinations that may have work and returns how long the scheduler may sleep
// if nothing wakes it.
func (s *scheduler) pass(cfg *Config) time.Duration {
	now := cfg.Now().UnixNano()
	for _, dest := range s.candidates(now) {
		s.visit(cfg, dest, now)
	}
	return s.nextWake(cfg, now)
}

// candidates are the destinations with jobs due or claimed ahead and no cooldown running, those
// with fewer attempts running first: when Workers is what limits, they get the free slots before
// busy ones take more.
func (s *scheduler) candidates(now int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	wall := wallNow()
	var names []string
	for name, d := range s.dests {
		if !d.breaker.waiting(wall) && (d.due <= now || len(d.ahead) > 0) {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int { return s.dests[a].running - s.dests[b].running })
	return names
}

// visit starts dest's claimed-ahead jobs in its free slots, then claims what it has room for and
// starts or keeps those.
func (s *scheduler) visit(cfg *Config, dest string, now int64) {
	s.mu.Lock()
	d := s.dests[dest]
	if d == nil {
		s.mu.Unlock()
		return
	}
	started := s.startAhead(cfg, d)
	want := s.claimable(cfg, d, now)
	version := d.version
	s.mu.Unlock()
	s.launch(started)
	if want == 0 {
		return
	}
	jobs, next, err := s.q.st.Claim(dest, now, want)
	if err != nil {
		s.q.logger.Error("claim due jobs", zap.String("destination", dest), zap.Error(err))
		s.mu.Lock()
		d.due = max(d.due, now+int64(failureBackoff))
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	d.settle(version, len(jobs) < want, next)
	started, refused := s.place(cfg, d, jobs)
	s.mu.Unlock()
	s.launch(started)
	if len(refused) > 0 {
		s.q.st.Release(refused)
	}
}

// claimable is how many jobs of d to claim now: one per free slot, and, once half of its jobs
// claimed ahead are taken, enough to fill them again (while their bodies stay under
// maxAheadBytes). s.mu is held.
func (s *scheduler) claimable(cfg *Config, d *destination, now int64) int {
	if d.due > now || s.committing >= maxCommitting(cfg) || d.breaker.waiting(wallNow()) {
		return 0
	}
	want := max(min(d.limit(cfg)-d.running, cfg.Workers-s.running), 0)
	if !d.breaker.open() && len(d.ahead) <= aheadCap(cfg)/2 && s.aheadBytes < maxAheadBytes {
		want += max(min(aheadCap(cfg)-len(d.ahead), cfg.Workers-s.ahead), 0)
	}
	return want
}

// hasSlot reports whether one more attempt of d may start. s.mu is held.
func (s *scheduler) hasSlot(cfg *Config, d *destination) bool {
	return d.running < d.limit(cfg) && s.running < cfg.Workers && !d.breaker.waiting(wallNow())
}

// take counts an attempt of d as started. s.mu is held.
func (s *scheduler) take(d *destination) {
	d.running++
	s.running++
	s.attempts.Add(1)
}

// startAhead takes d's claimed-ahead jobs into its free slots. s.mu is held; the caller launches
// them once unlocked.
func (s *scheduler) startAhead(cfg *Config, d *destination) []store.Job {
	var started []store.Job
	for len(d.ahead) > 0 && s.hasSlot(cfg, d) {
		started = append(started, s.popAhead(d))
		s.take(d)
	}
	return started
}

// place puts jobs just claimed into d's free slots, then ahead; those neither may take (its
// breaker opened while the Claim ran, or a Retry holds them) are returned for release. s.mu is
// held.
func (s *scheduler) place(cfg *Config, d *destination, jobs []store.Job) (started, refused []store.Job) {
	for _, j := range jobs {
		switch {
		case s.held[j.ID] > 0:
			refused = append(refused, j)
		case s.hasSlot(cfg, d):
			s.take(d)
			started = append(started, j)
		case !d.breaker.open():
			s.pushAhead(d, j)
		default:
			refused = append(refused, j)
		}
	}
	return started, refused
}

// launch starts a worker for each job, whose slot is already taken.
func (s *scheduler) launch(jobs []store.Job) {
	for _, j := range jobs {
		go s.work(j)
	}
}

// nextWake is how long until the earliest known due time or end of a cooldown (at most idlePoll),
// and forgets destinations with nothing left to remember.
func (s *scheduler) nextWake(cfg *Config, now int64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetIdle()
	wait := idlePoll
	wall := wallNow()
	for _, d := range s.dests {
		switch {
		case d.breaker.waiting(wall):
			if d.due != noDue { // a probe is due when the cooldown ends
				wait = min(wait, time.Duration(d.breaker.until-wall))
			}
		case d.due > now:
			if d.due != noDue {
				wait = min(wait, time.Duration(d.due-now))
			}
		case s.claimable(cfg, d, now) > 0:
			// An announcement raced the Claim: look again at once.
			wait = min(wait, time.Millisecond)
		}
	}
	return wait
}

// inFlight is how many attempts run now.
func (s *scheduler) inFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// waitAttempts waits until every worker has handed its last outcome to the recorder.
func (s *scheduler) waitAttempts() { s.attempts.Wait() }
