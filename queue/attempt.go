package queue

import (
	"math/rand/v2"

	"github.com/sidehook/sidehook/queue/store"
)

// work is a worker: it makes the attempt of job, whose slot the scheduler took, hands the outcome
// to the recorder, and goes on with its destination's next claimed-ahead job while it may keep
// the slot. A busy destination's jobs thus flow from one attempt to the next without a scheduler
// pass or a new goroutine each.
func (s *scheduler) work(job store.Job) {
	defer s.attempts.Done()
	for {
		cfg := s.q.config()
		ep := s.q.endpoints.Load().ep
		res := s.q.deliver(cfg, ep, job)
		s.observe(job.Dest, res)
		done := finished{
			outcome: decide(cfg, job, res, cfg.Now(), rand.Float64()),
			res:     res,
			cfg:     cfg,
			ep:      ep,
		}
		// The slot is handed on or freed before the outcome goes to the recorder, so that an
		// outcome recorded is never still counted as in flight.
		next, more := s.handOver(job.Dest)
		s.q.recorder.submit(done)
		if !more {
			return
		}
		job = next
	}
}

// handOver ends an attempt of dest: the worker keeps its slot for dest's next claimed-ahead job
// when the limits (which Configure may have lowered) and the queue's state allow, or frees it. The
// outcome now waits for its Record (committing).
func (s *scheduler) handOver(dest string) (store.Job, bool) {
	current := s.q.config() // Configure may have run during the attempt
	writable := s.q.st.Writable()
	s.mu.Lock()
	s.committing++
	d := s.dests[dest]
	// While Workers is what limits, a slot goes back to the scheduler when another destination has
	// jobs claimed ahead: it gives it to the destination with the fewest attempts running, so a
	// busy destination's backlog cannot keep the others' jobs waiting.
	yield := s.running >= current.Workers && s.ahead > len(d.ahead) && s.anotherWaitsForAWorker(current, d)
	if len(d.ahead) > 0 && writable && !current.Paused && !s.q.closed.Load() && !d.breaker.open() && !yield &&
		d.running <= current.PerDestination && s.running <= current.Workers {
		next := s.popAhead(d)
		// Top up once half of the jobs claimed ahead are taken: claims come in batches.
		topUp := len(d.ahead) <= aheadCap(current)/2 && d.due != noDue
		s.mu.Unlock()
		if topUp {
			s.wake()
		}
		return next, true
	}
	d.running--
	s.running--
	s.mu.Unlock()
	s.wake()
	return store.Job{}, false
}

// anotherWaitsForAWorker reports whether a destination other than d has a job claimed ahead and a
// free slot of its own: only Workers keeps it waiting. s.mu is held.
func (s *scheduler) anotherWaitsForAWorker(cfg *Config, d *destination) bool {
	for _, other := range s.dests {
		if other != d && len(other.ahead) > 0 && other.running < other.limit(cfg) {
			return true
		}
	}
	return false
}
