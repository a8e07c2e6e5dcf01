package queue

import (
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

const (
	gcInterval = 5 * time.Minute
	// gcRoundsPerRun bounds one run; each round rewrites at most one value log file.
	gcRoundsPerRun = 64
	// gcDiscardRatio: rewrite a value log file once half of it is garbage.
	gcDiscardRatio = 0.5
)

// gcLoop reclaims value-log space on a timer, so disk use follows the
// backlog down as events are delivered and their logs expire.
func (q *Queue) gcLoop() {
	defer q.bgDone.Done()
	ticker := time.NewTicker(gcInterval)
	defer ticker.Stop()
	for {
		select {
		case <-q.closing:
			return
		case <-ticker.C:
			q.CollectGarbage()
		}
	}
}

// CollectGarbage runs Badger's value-log GC until a round finds nothing
// worth rewriting.
func (q *Queue) CollectGarbage() {
	for range gcRoundsPerRun {
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
