package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

func enqueueRules() []rule {
	return []rule{
		{"EnqueuedJobIsDueAtOnce", enqueuedJobIsDueAtOnce},
		{"EnqueuedEventsSurviveReopen", enqueuedEventsSurviveReopen},
		{"DailyLimitIsExact", dailyLimitIsExact},
		{"DailyLimitCountsPerUTCDay", dailyLimitCountsPerUTCDay},
		{"JobsCountsClaimedJobsToo", jobsCountsClaimedJobsToo},
		{"ClosedStoreRefusesAndCloseIsIdempotent", closedStoreRefuses},
	}
}

// An enqueued event is a pending job due at the Enqueue's now, claimed with its body and event.
func enqueuedJobIsDueAtOnce(t *testing.T, s *suite) {
	f := s.newFixture(t)
	ev := event(destURL(1))
	if res := f.enqueue(at(0), policy, ev); !res.Queued[0] {
		t.Fatal("an event under no daily limit was not queued")
	}
	if next := f.claimNone(ev.URL, at(-time.Second)); next != at(0) {
		t.Errorf("Claim before its due time: next = %d, want the job's due time %d", next, at(0))
	}
	j := f.claimOne(ev.URL, at(0), ev.ID)
	if string(j.Body) != string(ev.Body) || j.URL != ev.URL || j.SubscriptionUID != "sub" || j.ClientID != "42" ||
		j.UserID != "7" || j.Created != ev.Created || j.Attempts != 0 || j.Due != at(0) || j.Dest != store.Destination(ev.URL) {
		t.Errorf("claimed job %+v does not match the event %+v", j, ev)
	}
	if item := f.log(ev.ID); item.Status != store.StatusPending || item.IsProcessed != "0" || item.RequestData != string(ev.Body) {
		t.Errorf("log of a new job: %+v", item)
	}
}

// Enqueue returns once its events are durable: a restart finds them, as due jobs.
func enqueuedEventsSurviveReopen(t *testing.T, s *suite) {
	needsReopen(t, s)
	f := s.newFixture(t)
	var evs []store.Event
	for range 20 {
		evs = append(evs, event(destURL(1)))
	}
	f.enqueue(at(0), policy, evs...)
	f.restart()
	if n := f.jobs(); n != len(evs) {
		t.Errorf("Jobs after reopen = %d, want %d", n, len(evs))
	}
	jobs, _ := f.claim(destURL(1), at(0), 100)
	if len(jobs) != len(evs) {
		t.Fatalf("claimed %d jobs after reopen, want %d", len(jobs), len(evs))
	}
}

// The daily limit is exact under concurrent Enqueues of one client and user; others are not
// affected, and the events past it are final "limited" log items, never jobs.
func dailyLimitIsExact(t *testing.T, s *suite) {
	f := s.newFixture(t)
	p := policy
	p.DailyLimit = 3
	const callers = 8
	var wg sync.WaitGroup
	queued := make([]bool, callers)
	evs := make([]store.Event, callers)
	for i := range callers {
		evs[i] = event(destURL(1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.store.Enqueue(context.Background(), evs[i:i+1], time.Unix(0, at(0)), p)
			if err != nil {
				t.Errorf("Enqueue: %v", err)
				return
			}
			queued[i] = res.Queued[0]
		}()
	}
	wg.Wait()
	n := 0
	for i, q := range queued {
		item := f.log(evs[i].ID)
		if q {
			n++
			continue
		}
		if item.Status != store.StatusLimited || item.IsProcessed != "1" || item.Attempts != 0 || item.NextAttempt != "" {
			t.Errorf("limited item: %+v", item)
		}
	}
	if n != p.DailyLimit {
		t.Fatalf("%d of %d concurrent events queued under a daily limit of %d", n, callers, p.DailyLimit)
	}
	if got := f.jobs(); got != p.DailyLimit {
		t.Errorf("Jobs = %d, want %d: a limited event became a job", got, p.DailyLimit)
	}
	other := event(destURL(1))
	other.UserID = "8"
	if res := f.enqueue(at(0), p, other); !res.Queued[0] {
		t.Error("another user of the same client was limited")
	}
}

// A new UTC day starts a new count.
func dailyLimitCountsPerUTCDay(t *testing.T, s *suite) {
	f := s.newFixture(t)
	p := policy
	p.DailyLimit = 1
	if res := f.enqueue(at(0), p, event(destURL(1)), event(destURL(1))); !res.Queued[0] || res.Queued[1] {
		t.Fatalf("limit 1: %v, want the first queued and the second limited", res.Queued)
	}
	if res := f.enqueue(at(24*time.Hour), p, event(destURL(1))); !res.Queued[0] {
		t.Error("the next UTC day's first event was limited")
	}
}

// Jobs counts every job stored, claimed ones included, and not the final ones.
func jobsCountsClaimedJobsToo(t *testing.T, s *suite) {
	f := s.newFixture(t)
	a, b := event(destURL(1)), event(destURL(2))
	f.enqueue(at(0), policy, a, b)
	ja := f.claimOne(a.URL, at(0), a.ID)
	if n := f.jobs(); n != 2 {
		t.Errorf("Jobs with one of two claimed = %d, want 2", n)
	}
	f.record(delivered(ja, at(time.Second)))
	if n := f.jobs(); n != 1 {
		t.Errorf("Jobs after one was delivered = %d, want 1", n)
	}
}

// A closed store answers ErrClosed, and closing it again is harmless.
func closedStoreRefuses(t *testing.T, s *suite) {
	st := s.open(t)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err := st.Enqueue(context.Background(), []store.Event{event(destURL(1))}, base, policy)
	if !errors.Is(err, store.ErrClosed) {
		t.Errorf("Enqueue after Close: %v, want ErrClosed", err)
	}
}
