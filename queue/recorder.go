package queue

import (
	"github.com/sidehook/sidehook/queue/store"
	"go.uber.org/zap"
)

const (
	// maxRecordBatch bounds how many outcomes one Record writes.
	maxRecordBatch = 128
	// maxRecordBytes bounds what one Record writes (receivers' answers mostly), so a batch stays
	// well inside what a store takes in one write; an outcome that does not fit waits for the next.
	maxRecordBytes = 256 << 10
)

// finished is an attempt whose outcome waits for its Record, with what the steps after it need.
type finished struct {
	outcome store.Outcome
	res     attemptResult
	cfg     *Config
	ep      Endpoints
}

// size estimates what recording f writes.
func (f *finished) size() int { return len(f.outcome.ResponseData) + 512 }

// recorder writes attempt outcomes in groups (group commit): one goroutine takes every outcome
// that finished while the previous Record was writing and records them together. Workers hand
// their outcome over and are free for the next HTTP exchange at once, instead of each waiting for
// a write of its own. Under light load a batch is a single outcome and waits for nothing; under
// load the batch grows by itself.
//
// The at-least-once promise rests on the store: a job is deleted by the Record of its final
// outcome, and a process that dies before that leaves it due again.
type recorder struct {
	q    *Queue
	ch   chan finished
	done chan struct{}
}

func newRecorder(q *Queue) *recorder {
	return &recorder{q: q, ch: make(chan finished, 256), done: make(chan struct{})}
}

// submit queues f for the next Record; it blocks only while the recorder is that far behind.
func (r *recorder) submit(f finished) { r.ch <- f }

// stop ends the recorder once every submitted outcome is recorded. It is called after every
// worker has stopped.
func (r *recorder) stop() {
	close(r.ch)
	<-r.done
}

func (r *recorder) run() {
	defer close(r.done)
	batch := make([]finished, 0, maxRecordBatch)
	outcomes := make([]store.Outcome, 0, maxRecordBatch)
	var carry *finished
	for {
		var first finished
		if carry != nil {
			first, carry = *carry, nil
		} else {
			var ok bool
			if first, ok = <-r.ch; !ok {
				return
			}
		}
		batch = append(batch[:0], first)
		bytes := first.size()
	fill:
		for len(batch) < maxRecordBatch {
			select {
			case f, ok := <-r.ch:
				if !ok {
					break fill
				}
				if bytes+f.size() > maxRecordBytes {
					carry = &f
					break fill
				}
				batch = append(batch, f)
				bytes += f.size()
			default:
				break fill
			}
		}
		outcomes = outcomes[:0]
		for i := range batch {
			outcomes = append(outcomes, batch[i].outcome)
		}
		r.record(batch, outcomes)
		clear(batch)
		clear(outcomes)
	}
}

// record writes one batch and follows up each outcome. When the store refuses the batch, their
// claims have ended all the same and the jobs are due again as they were (the contract): they
// cannot be recorded one by one now, since another claim may hold them, so their destinations
// are looked at again after failureBackoff and the jobs attempted again.
func (r *recorder) record(batch []finished, outcomes []store.Outcome) {
	q := r.q
	if err := q.st.Record(outcomes, policy(q.config())); err != nil {
		q.logger.Error("record delivery attempts; their jobs will be attempted again",
			zap.Int("attempts", len(batch)), zap.Error(err))
		later := q.now().UnixNano() + int64(failureBackoff)
		for i := range batch {
			q.sched.noteLater(batch[i].outcome.Job.Dest, later)
		}
	} else {
		for i := range batch {
			q.followUp(&batch[i])
		}
	}
	q.sched.recorded(len(batch))
}

// recorded counts n outcomes as recorded: claims may go on.
func (s *scheduler) recorded(n int) {
	s.mu.Lock()
	s.committing -= n
	s.mu.Unlock()
	s.wake()
}
