package queue

import (
	"math"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

// noDue is a destination's due time while the scheduler knows of no unclaimed job of it.
const noDue = math.MaxInt64

// destination is what the scheduler knows of one destination (a URL's host and port). Its fields
// are guarded by scheduler.mu.
type destination struct {
	// due is a lower bound of the due time of its earliest unclaimed job (noDue: none known). The
	// store's announcements (scheduler.note) lower it; a Claim that empties the due jobs raises it
	// to the next due time the store reports.
	due int64
	// version counts announcements, so that a Claim that ran while one arrived does not raise due
	// past the job it announced.
	version uint64
	// ahead are jobs claimed before a slot was free for them, in due order: a worker that finishes
	// an attempt of this destination takes the next one at once (attempt.go).
	ahead []store.Job
	// running counts its attempts in flight (bounded by PerDestination).
	running int
	// breaker holds the destination back while it answers nothing (breaker.go).
	breaker breaker
}

// limit is how many attempts of d may run at once: one probe while its breaker is open.
func (d *destination) limit(cfg *Config) int {
	if d.breaker.open() {
		return 1
	}
	return cfg.PerDestination
}

// aheadCap is how many jobs a destination keeps claimed ahead: enough that its workers never wait
// for a pass, and claims come in batches of at least half of it (the scheduler tops up once half
// is taken).
func aheadCap(cfg *Config) int { return 2 * cfg.PerDestination }

// maxAheadBytes bounds the bodies held by jobs claimed ahead, in every destination: past it only
// jobs that start at once are claimed, so large bodies (up to max_body each) do not pile up in
// memory while they wait for a slot.
const maxAheadBytes = 4 << 20

// pushAhead keeps j claimed ahead for d. s.mu is held.
func (s *scheduler) pushAhead(d *destination, j store.Job) {
	d.ahead = append(d.ahead, j)
	s.ahead++
	s.aheadBytes += len(j.Body)
}

// popAhead takes d's first job claimed ahead; d has one. s.mu is held.
func (s *scheduler) popAhead(d *destination) store.Job {
	j := d.ahead[0]
	d.ahead[0] = store.Job{} // the body is not kept alive by the backing array
	d.ahead = d.ahead[1:]
	s.ahead--
	s.aheadBytes -= len(j.Body)
	return j
}

// idle reports whether d has nothing to remember: no job known, none claimed, and no cooldown
// running (a breaker whose cooldown is over is forgotten with it: a new job gets one attempt, which
// opens it again if the destination still answers nothing).
func (d *destination) idle(wall int64) bool {
	return d.due == noDue && d.running == 0 && len(d.ahead) == 0 && !d.breaker.waiting(wall)
}

// note is the store's Watch function: dest has a job due at due. It lowers what the scheduler
// knows of dest and wakes it.
func (s *scheduler) note(dest string, due int64) {
	s.mu.Lock()
	d := s.destination(dest)
	d.due = min(d.due, due)
	d.version++
	s.mu.Unlock()
	s.wake()
}

// noteLater makes dest due again at due without counting as an announcement: the engine's own
// reminder, for jobs whose outcome could not be recorded.
func (s *scheduler) noteLater(dest string, due int64) {
	s.mu.Lock()
	d := s.destination(dest)
	d.due = min(d.due, due)
	s.mu.Unlock()
}

// destination returns dest's state, made on first use. s.mu is held.
func (s *scheduler) destination(dest string) *destination {
	d := s.dests[dest]
	if d == nil {
		d = &destination{due: noDue}
		s.dests[dest] = d
	}
	return d
}

// settle records what a Claim of version's snapshot learnt: when it returned fewer jobs than
// asked (exhausted), dest has no unclaimed job due before next (0: none at all). An announcement
// since then may be of a job the Claim did not see, so it is never overruled.
func (d *destination) settle(version uint64, exhausted bool, next int64) {
	if !exhausted {
		return // more may be due: looked at again when a slot or room ahead frees
	}
	if next == 0 {
		next = noDue
	}
	if d.version == version {
		d.due = next
		return
	}
	d.due = min(d.due, next)
}

// takeAhead removes and returns d's claimed-ahead jobs that match. s.mu is held; the caller
// releases them in the store once it is unlocked.
func (s *scheduler) takeAhead(d *destination, match func(store.Job) bool) []store.Job {
	var taken []store.Job
	kept := d.ahead[:0]
	for _, j := range d.ahead {
		if match(j) {
			taken = append(taken, j)
			d.due = min(d.due, j.Due)
			s.aheadBytes -= len(j.Body)
		} else {
			kept = append(kept, j)
		}
	}
	clear(d.ahead[len(kept):])
	d.ahead = kept
	s.ahead -= len(taken)
	return taken
}

// releaseAhead gives every claimed-ahead job back to the store (delivery paused, the store not
// writable, the scheduler stopping).
func (s *scheduler) releaseAhead() {
	s.releaseAheadWhere(func(string, store.Job) bool { return true })
}

// releaseAheadOf gives dest's claimed-ahead jobs back (its breaker opened).
func (s *scheduler) releaseAheadOf(dest string) {
	s.releaseAheadWhere(func(d string, _ store.Job) bool { return d == dest })
}

// holdForRetry keeps the job of id from being claimed by this engine until the returned function
// is called, and gives it back if it is claimed ahead now: the store's Retry then waits only for
// an attempt in flight, never for a job that merely waits for a slot.
func (s *scheduler) holdForRetry(id string) (release func()) {
	s.mu.Lock()
	s.held[id]++
	s.mu.Unlock()
	s.releaseAheadWhere(func(_ string, j store.Job) bool { return j.ID == id })
	return func() {
		s.mu.Lock()
		if s.held[id]--; s.held[id] <= 0 {
			delete(s.held, id)
		}
		s.mu.Unlock()
	}
}

func (s *scheduler) releaseAheadWhere(match func(dest string, j store.Job) bool) {
	var released []store.Job
	s.mu.Lock()
	for name, d := range s.dests {
		if len(d.ahead) > 0 {
			released = append(released, s.takeAhead(d, func(j store.Job) bool { return match(name, j) })...)
		}
	}
	s.mu.Unlock()
	if len(released) > 0 {
		s.q.st.Release(released)
		s.wake()
	}
}

// forgetIdle drops the state of destinations with nothing left to remember. s.mu is held.
func (s *scheduler) forgetIdle() {
	wall := wallNow()
	for name, d := range s.dests {
		if d.idle(wall) {
			delete(s.dests, name)
		}
	}
}

// wallNow is the wall clock the breaker's cooldowns run on (Config.Now may be a test's clock).
func wallNow() int64 { return time.Now().UnixNano() }
