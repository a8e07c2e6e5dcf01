package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

func retryRules() []rule {
	return []rule{
		{"RetryReopensFinal", retryReopensFinal},
		{"RetryMovesAPendingJobToNow", retryMovesAPendingJobToNow},
		{"RetryOfLimitedIsRefused", retryOfLimitedIsRefused},
		{"RetryOfUnknownIsNotFound", retryOfUnknownIsNotFound},
		{"RetryWaitsForTheClaim", retryWaitsForTheClaim},
	}
}

// Retry of a final item reopens it: a job due now, its attempt count kept, its log not final.
func retryReopensFinal(t *testing.T, s *suite) {
	f := s.newFixture(t)
	ev := event(destURL(1))
	f.enqueue(at(0), policy, ev)
	f.record(delivered(f.claimOne(ev.URL, at(0), ev.ID), at(time.Second)))
	reopened, err := f.store.Retry(ev.ID, time.Unix(0, at(time.Hour)), policy)
	if err != nil || !reopened {
		t.Fatalf("Retry of a delivered item: reopened %v, err %v", reopened, err)
	}
	if item := f.log(ev.ID); item.IsProcessed != "0" || item.Processed != "" || store.IsFinal(item.Status) {
		t.Errorf("log of a reopened item: %+v", item)
	}
	j := f.claimOne(ev.URL, at(time.Hour), ev.ID)
	if j.Attempts != 1 || j.Due != at(time.Hour) || string(j.Body) != string(ev.Body) {
		t.Errorf("reopened job: %+v", j)
	}
	if n := f.jobs(); n != 1 {
		t.Errorf("Jobs after a reopen = %d, want 1", n)
	}
}

// Retry of a pending job makes it due now, without reopening anything.
func retryMovesAPendingJobToNow(t *testing.T, s *suite) {
	f := s.newFixture(t)
	ev := event(destURL(1))
	f.enqueue(at(0), policy, ev)
	f.record(retrying(f.claimOne(ev.URL, at(0), ev.ID), at(time.Second), at(time.Hour)))
	reopened, err := f.store.Retry(ev.ID, time.Unix(0, at(time.Minute)), policy)
	if err != nil || reopened {
		t.Fatalf("Retry of a retrying item: reopened %v, err %v", reopened, err)
	}
	f.claimOne(ev.URL, at(time.Minute), ev.ID)
	if n := f.jobs(); n != 1 {
		t.Errorf("Jobs = %d, want 1: the old job must be gone", n)
	}
}

// A limited event was never queued and cannot be retried.
func retryOfLimitedIsRefused(t *testing.T, s *suite) {
	f := s.newFixture(t)
	p := policy
	p.DailyLimit = 1
	a, b := event(destURL(1)), event(destURL(1))
	f.enqueue(at(0), p, a, b)
	if _, err := f.store.Retry(b.ID, time.Unix(0, at(0)), p); !errors.Is(err, store.ErrNotRetryable) {
		t.Errorf("Retry of a limited item: %v, want ErrNotRetryable", err)
	}
}

func retryOfUnknownIsNotFound(t *testing.T, s *suite) {
	f := s.newFixture(t)
	if _, err := f.store.Retry(newID(), time.Unix(0, at(0)), policy); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Retry of an unknown id: %v, want ErrNotFound", err)
	}
}

// Retry of a claimed job waits for the claim to end and then applies to the recorded state: an
// attempt that ends delivered while a Retry waits leaves the job reopened, not lost under the
// delivered outcome.
func retryWaitsForTheClaim(t *testing.T, s *suite) {
	f := s.newFixture(t)
	ev := event(destURL(1))
	f.enqueue(at(0), policy, ev)
	j := f.claimOne(ev.URL, at(0), ev.ID)
	type result struct {
		reopened bool
		err      error
	}
	done := make(chan result, 1)
	go func() {
		r, err := f.store.Retry(ev.ID, time.Unix(0, at(time.Minute)), policy)
		done <- result{r, err}
	}()
	f.record(delivered(j, at(time.Second)))
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Retry did not return within 10s of the claim's end")
	}
	if r.err != nil || !r.reopened {
		t.Fatalf("Retry of a job delivered meanwhile: reopened %v, err %v; want it reopened", r.reopened, r.err)
	}
	f.claimOne(ev.URL, at(time.Minute), ev.ID)
}
