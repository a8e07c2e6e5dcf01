// Package memstore is a store.Store kept in memory behind one mutex: nothing survives the
// process. It is the reference implementation of the storage seam, simple enough to read in one
// sitting: the delivery engine's tests run on it, and it shows that a second store needs no change
// to the engine. Every rule of the contract in package store holds here, plainly: claims are
// exclusive, Record writes a batch all or none, the daily limit is exact, Retry waits for a claim
// to end, and Watch hears of every job that becomes due.
package memstore

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

// item is one event with its delivery state: a job while due is non-zero.
type item struct {
	ev        store.Event
	seq       uint64 // order of arrival, to list logs newest first
	status    string
	attempts  int
	due       int64 // unix ns the job is due; 0: no job (final)
	claimed   bool
	code      int
	response  []byte
	err       string
	processed int64     // unix ns of the final outcome
	expires   time.Time // a final item's log is readable until then
}

// Store is an in-memory store.Store. The zero value is not usable: call New.
type Store struct {
	mu sync.Mutex
	// claimEnded is signalled whenever a claim ends, for Retry waiting on one.
	claimEnded *sync.Cond
	items      map[string]*item
	// jobs are the ids of each destination's jobs, claimed ones included.
	jobs     map[string]map[string]*item
	daily    map[string]int // "day client user" -> events queued that day
	watch    func(dest string, due int64)
	seq      uint64
	readOnly bool
	closed   bool
	// retriesWaiting counts Retry calls waiting for a claim to end (RetriesWaiting).
	retriesWaiting int
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	s := &Store{
		items: make(map[string]*item),
		jobs:  make(map[string]map[string]*item),
		daily: make(map[string]int),
	}
	s.claimEnded = sync.NewCond(&s.mu)
	return s
}

// SetWritable makes Writable answer w: tests use it to stand for a nearly full disk, on which
// Enqueue answers ErrDiskFull and the engine starts no attempt (outcomes of attempts under way are
// still recorded).
func (s *Store) SetWritable(w bool) {
	s.mu.Lock()
	s.readOnly = !w
	s.mu.Unlock()
}

// announcement is a Watch call to make once the mutex is released.
type announcement struct {
	dest string
	due  int64
}

// announce calls the Watch function for each announcement; the mutex is not held.
func (s *Store) announce(list []announcement) {
	s.mu.Lock()
	watch := s.watch
	s.mu.Unlock()
	if watch == nil {
		return
	}
	for _, a := range list {
		watch(a.dest, a.due)
	}
}

// Enqueue stores events: each becomes a job due at now, or past p.DailyLimit a limited log item.
func (s *Store) Enqueue(ctx context.Context, events []store.Event, now time.Time, p store.Policy) (store.EnqueueResult, error) {
	if err := ctx.Err(); err != nil {
		return store.EnqueueResult{}, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.EnqueueResult{}, store.ErrClosed
	}
	if s.readOnly {
		s.mu.Unlock()
		return store.EnqueueResult{}, store.ErrDiskFull
	}
	res := store.EnqueueResult{Queued: make([]bool, len(events))}
	nowNs := now.UnixNano()
	day := now.UTC().Format("2006-01-02")
	earliest := make(map[string]int64)
	for i, ev := range events {
		s.seq++
		it := &item{ev: ev, seq: s.seq}
		it.ev.Body = append([]byte(nil), ev.Body...)
		key := day + " " + ev.ClientID + " " + ev.UserID
		if p.DailyLimit > 0 && s.daily[key] >= p.DailyLimit {
			it.status = store.StatusLimited
			it.processed = nowNs
			it.err = fmt.Sprintf("daily limit of %d reached", p.DailyLimit)
			it.expires = time.Now().Add(p.KeepLogs)
			s.items[ev.ID] = it
			continue
		}
		s.daily[key]++
		it.status = store.StatusPending
		it.due = nowNs
		s.items[ev.ID] = it
		dest := store.Destination(ev.URL)
		s.addJob(dest, it)
		earliest[dest] = nowNs
		res.Queued[i] = true
	}
	s.mu.Unlock()
	var list []announcement
	for dest, due := range earliest {
		list = append(list, announcement{dest, due})
	}
	s.announce(list)
	return res, nil
}

// addJob files it under its destination's jobs. s.mu is held.
func (s *Store) addJob(dest string, it *item) {
	if s.jobs[dest] == nil {
		s.jobs[dest] = make(map[string]*item)
	}
	s.jobs[dest][it.ev.ID] = it
}

// dropJob removes it from its destination's jobs. s.mu is held.
func (s *Store) dropJob(it *item) {
	dest := store.Destination(it.ev.URL)
	delete(s.jobs[dest], it.ev.ID)
	if len(s.jobs[dest]) == 0 {
		delete(s.jobs, dest)
	}
}

// Claim claims up to max of dest's unclaimed jobs due by now, in due order.
func (s *Store) Claim(dest string, now int64, max int) ([]store.Job, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, store.ErrClosed
	}
	var due []*item
	var next int64
	for _, it := range s.jobs[dest] {
		if it.claimed {
			continue
		}
		if it.due <= now {
			due = append(due, it)
		} else if next == 0 || it.due < next {
			next = it.due
		}
	}
	sort.Slice(due, func(a, b int) bool {
		if due[a].due != due[b].due {
			return due[a].due < due[b].due
		}
		return due[a].ev.ID < due[b].ev.ID
	})
	if len(due) > max {
		// The first one left behind is due already: the earliest unclaimed job not returned.
		next = due[max].due
		due = due[:max]
	}
	jobs := make([]store.Job, 0, len(due))
	for _, it := range due {
		it.claimed = true
		jobs = append(jobs, store.Job{Event: it.ev, Dest: dest, Due: it.due, Attempts: it.attempts})
	}
	return jobs, next, nil
}

// Release ends the claims of jobs that were not attempted.
func (s *Store) Release(jobs []store.Job) {
	s.mu.Lock()
	earliest := make(map[string]int64)
	for _, j := range jobs {
		it := s.items[j.ID]
		if it == nil || !it.claimed {
			continue
		}
		it.claimed = false
		if d, ok := earliest[j.Dest]; !ok || it.due < d {
			earliest[j.Dest] = it.due
		}
	}
	s.claimEnded.Broadcast()
	s.mu.Unlock()
	var list []announcement
	for dest, due := range earliest {
		list = append(list, announcement{dest, due})
	}
	s.announce(list)
}

// Record writes every outcome or, when one of them does not fit the jobs' state, none; the claims
// end either way.
func (s *Store) Record(outcomes []store.Outcome, p store.Policy) error {
	s.mu.Lock()
	var err error
	switch {
	case s.closed:
		err = store.ErrClosed
	default:
		// Not being writable does not refuse outcomes: it only keeps new attempts from starting,
		// and the outcomes of those under way are still recorded.
		err = s.checkClaimed(outcomes)
	}
	var list []announcement
	for _, o := range outcomes {
		it := s.items[o.Job.ID]
		if it == nil || !it.claimed {
			continue
		}
		it.claimed = false
		if err != nil {
			continue
		}
		s.apply(it, o, p)
		if o.Status == store.StatusRetrying {
			list = append(list, announcement{o.Job.Dest, o.NextDue})
		}
	}
	s.claimEnded.Broadcast()
	s.mu.Unlock()
	s.announce(list)
	return err
}

// checkClaimed reports an error when an outcome is for a job that is not claimed, or has a status
// no attempt ends with (a mistake of the caller): then nothing of the batch is written. s.mu is held.
func (s *Store) checkClaimed(outcomes []store.Outcome) error {
	for _, o := range outcomes {
		it := s.items[o.Job.ID]
		if it == nil || !it.claimed {
			return fmt.Errorf("memstore: outcome of %s, which is not claimed", o.Job.ID)
		}
		switch o.Status {
		case store.StatusDelivered, store.StatusDead, store.StatusGone:
		case store.StatusRetrying:
			if o.NextDue == 0 {
				return fmt.Errorf("memstore: retrying outcome of %s without a next due time", o.Job.ID)
			}
		default:
			return fmt.Errorf("memstore: outcome of %s has status %q, which no attempt ends with", o.Job.ID, o.Status)
		}
	}
	return nil
}

// apply writes one outcome into it. s.mu is held.
func (s *Store) apply(it *item, o store.Outcome, p store.Policy) {
	it.attempts = o.Attempts
	it.err = o.Error
	if o.Requested {
		it.code = o.ResponseCode
		it.response = append([]byte(nil), o.ResponseData...)
	}
	it.status = o.Status
	if o.Status == store.StatusRetrying {
		it.due = o.NextDue
		return
	}
	s.dropJob(it)
	it.due = 0
	it.processed = o.End
	it.expires = time.Now().Add(p.KeepLogs)
}

// expired reports whether it's log has expired. s.mu is held.
func expired(it *item) bool {
	return store.IsFinal(it.status) && !it.expires.IsZero() && time.Now().After(it.expires)
}

// Retry makes the job of id due at now, waiting for a claim on it to end first.
func (s *Store) Retry(id string, now time.Time, p store.Policy) (bool, error) {
	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			return false, store.ErrClosed
		}
		it := s.items[id]
		if it == nil || expired(it) {
			s.mu.Unlock()
			return false, store.ErrNotFound
		}
		if it.status == store.StatusLimited {
			s.mu.Unlock()
			return false, store.ErrNotRetryable
		}
		if it.claimed {
			s.retriesWaiting++
			s.claimEnded.Wait()
			s.retriesWaiting--
			continue
		}
		reopened := store.IsFinal(it.status)
		if reopened {
			it.status = store.StatusRetrying
			it.processed = 0
			it.expires = time.Time{}
		}
		it.due = now.UnixNano()
		dest := store.Destination(it.ev.URL)
		s.addJob(dest, it)
		s.mu.Unlock()
		s.announce([]announcement{{dest, now.UnixNano()}})
		return reopened, nil
	}
}

// Watch sets the function told of due jobs and tells it of every destination with jobs now.
func (s *Store) Watch(due func(dest string, due int64)) {
	s.mu.Lock()
	s.watch = due
	var list []announcement
	for dest, jobs := range s.jobs {
		var earliest int64
		for _, it := range jobs {
			if !it.claimed && (earliest == 0 || it.due < earliest) {
				earliest = it.due
			}
		}
		if earliest != 0 {
			list = append(list, announcement{dest, earliest})
		}
	}
	s.mu.Unlock()
	s.announce(list)
}

// Jobs counts the jobs stored, claimed ones included.
func (s *Store) Jobs() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, jobs := range s.jobs {
		n += len(jobs)
	}
	return n, nil
}

// Writable is true unless SetWritable(false) said otherwise.
func (s *Store) Writable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.readOnly && !s.closed
}

// Disk is nil: memory has no disk view.
func (s *Store) Disk() *store.DiskSpace { return nil }

// Close ends the store; a Retry waiting for a claim returns ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.claimEnded.Broadcast()
	s.mu.Unlock()
	return nil
}

// RetriesWaiting is how many Retry calls wait for a claim to end: tests use it to know a Retry is
// blocked before they end the claim.
func (s *Store) RetriesWaiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retriesWaiting
}
