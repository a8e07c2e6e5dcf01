package queue

import (
	"github.com/dgraph-io/badger/v4"
)

const (
	// maxCommitBatch bounds how many attempt outcomes share a transaction.
	maxCommitBatch = 128
	// maxCommitBytes bounds what a shared transaction writes (bodies and
	// receivers' answers), well inside Badger's transaction limit (15% of
	// MemTableSize, about 600 KiB here); an outcome that does not fit waits
	// for the next transaction.
	maxCommitBytes = 256 << 10
)

// outcome is a finished attempt waiting for its commit.
type outcome struct {
	j job
	// rec is the job's state as its pass read it (the body included).
	rec record
	res attemptResult
	cfg *Config
	ep  Endpoints

	// Set by applyOutcome.
	status       string
	created      int64
	endNs        int64
	nextDue      int64
	expires      uint64 // of a final outcome: when the last of its entries expires, unix seconds
	subscription string
}

// size estimates what applying o writes.
func (o *outcome) size() int { return len(o.res.body) + 512 }

// committer records attempt outcomes in shared write transactions (group
// commit): one goroutine takes every outcome that finished while the previous
// transaction was committing and writes them together. Workers hand their
// outcome over and are free for the next HTTP exchange at once, instead of
// each waiting for a commit of its own. Under light load a batch is a single
// outcome and waits for nothing; under load the batch grows by itself.
//
// The at-least-once promise is unchanged: a job's claim is dropped only after
// the transaction holding its outcome is committed, and a process that dies
// before that leaves the job key in place, due again at start.
type committer struct {
	q    *Queue
	ch   chan *outcome
	done chan struct{}
}

func newCommitter(q *Queue) *committer {
	return &committer{q: q, ch: make(chan *outcome, 256), done: make(chan struct{})}
}

// submit queues o for the next shared transaction; it blocks only while the
// committer is that far behind.
func (c *committer) submit(o *outcome) { c.ch <- o }

// stop ends the committer once every submitted outcome is recorded. It is
// called after the scheduler stopped and every attempt finished.
func (c *committer) stop() {
	close(c.ch)
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	batch := make([]*outcome, 0, maxCommitBatch)
	var carry *outcome
	for {
		first := carry
		carry = nil
		if first == nil {
			var ok bool
			if first, ok = <-c.ch; !ok {
				return
			}
		}
		batch = append(batch[:0], first)
		bytes := first.size()
	fill:
		for len(batch) < maxCommitBatch {
			select {
			case o, ok := <-c.ch:
				if !ok {
					break fill
				}
				if bytes+o.size() > maxCommitBytes {
					carry = o
					break fill
				}
				batch = append(batch, o)
				bytes += o.size()
			default:
				break fill
			}
		}
		c.commit(batch)
		clear(batch)
	}
}

// commit records batch in one transaction, or each outcome on its own if
// that fails, then finishes every attempt of the batch.
func (c *committer) commit(batch []*outcome) {
	q := c.q
	errs := make([]error, len(batch))
	if err := q.commitShared(batch); err != nil {
		for i, o := range batch {
			errs[i] = q.commitOne(o)
		}
	}
	for i, o := range batch {
		q.recorded(o, errs[i])
		q.sched.finish(o.j)
	}
}

// commitShared applies every outcome of batch in one transaction; on a
// failure nothing of the batch is written.
//
// It writes without reading: each outcome carries the state its pass read,
// and nothing else changes the state of a claimed job. Enqueue writes new
// ids only, a pending state has no TTL, and a Retry waits until the job is
// not claimed and keeps it from being claimed while it runs
// (scheduler.holdForRetry). Reading every state again here was a third of
// the commit's cost on a drain.
func (q *Queue) commitShared(batch []*outcome) error {
	var size int64
	for _, o := range batch {
		size += int64(o.size())
	}
	// No gate: the attempts happened, and their outcomes are a few KiB
	// that the disk gate's floor leaves room for.
	q.disk.begin(size)
	defer q.disk.done(size)
	return q.db.Update(func(txn *badger.Txn) error {
		for _, o := range batch {
			if err := q.applyOutcome(txn, o.rec, o); err != nil {
				return err
			}
		}
		return nil
	})
}

// commitOne records o in a transaction of its own.
func (q *Queue) commitOne(o *outcome) error {
	q.disk.begin(int64(o.size()))
	defer q.disk.done(int64(o.size()))
	return q.db.Update(func(txn *badger.Txn) error { return q.applyOutcome(txn, o.rec, o) })
}
