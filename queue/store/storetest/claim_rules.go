package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

func claimRules() []rule {
	return []rule{
		{"ClaimReturnsDueJobsInDueOrder", claimReturnsDueJobsInDueOrder},
		{"ClaimNextIsTheEarliestUnreturnedJob", claimNextIsTheEarliestUnreturnedJob},
		{"ClaimKeepsDestinationsApart", claimKeepsDestinationsApart},
		{"ClaimedJobIsNotClaimedAgain", claimedJobIsNotClaimedAgain},
		{"ClaimIsExclusiveUnderConcurrency", claimIsExclusiveUnderConcurrency},
		{"ReleasedJobIsDueAgain", releasedJobIsDueAgain},
		{"ClaimedJobsSurviveReopenAsDue", claimedJobsSurviveReopenAsDue},
	}
}

// Claim hands out the due jobs of a destination in due order, at most max of them.
func claimReturnsDueJobsInDueOrder(t *testing.T, s *suite) {
	f := s.newFixture(t)
	var want []string
	for i := range 5 {
		ev := event(destURL(1))
		f.enqueue(at(time.Duration(4-i)*time.Second), policy, ev) // enqueued latest first
		want = append([]string{ev.ID}, want...)
	}
	jobs, _ := f.claim(destURL(1), at(time.Minute), 3)
	if got := ids(jobs); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("Claim(max 3) = %v, want %v", got, want[:3])
	}
	for i := 1; i < len(jobs); i++ {
		if jobs[i].Due < jobs[i-1].Due {
			t.Errorf("jobs out of due order: %d before %d", jobs[i-1].Due, jobs[i].Due)
		}
	}
}

// next is the due time of the earliest unclaimed job Claim did not return: a due one left over by
// max, or a future one; 0 when there is none.
func claimNextIsTheEarliestUnreturnedJob(t *testing.T, s *suite) {
	f := s.newFixture(t)
	url := destURL(1)
	f.enqueue(at(0), policy, event(url))
	f.enqueue(at(time.Second), policy, event(url))
	f.enqueue(at(time.Hour), policy, event(url))
	if _, next := f.claim(url, at(time.Minute), 1); next != at(time.Second) {
		t.Errorf("a due job left over by max: next = %d, want %d", next, at(time.Second))
	}
	if _, next := f.claim(url, at(time.Minute), 10); next != at(time.Hour) {
		t.Errorf("a future job: next = %d, want %d", next, at(time.Hour))
	}
	if next := f.claimNone(url, at(time.Minute)); next != at(time.Hour) {
		t.Errorf("only claimed jobs and a future one: next = %d, want %d", next, at(time.Hour))
	}
	if jobs, next := f.claim(url, at(2*time.Hour), 10); len(jobs) != 1 || next != 0 {
		t.Errorf("the last job: %d jobs, next %d; want 1 and 0", len(jobs), next)
	}
}

// A Claim of one destination never returns another's job.
func claimKeepsDestinationsApart(t *testing.T, s *suite) {
	f := s.newFixture(t)
	a, b := event(destURL(1)), event(destURL(2))
	f.enqueue(at(0), policy, a, b)
	f.claimOne(a.URL, at(0), a.ID)
	f.claimOne(b.URL, at(0), b.ID)
}

// A claimed job is not handed out again while its claim lasts.
func claimedJobIsNotClaimedAgain(t *testing.T, s *suite) {
	f := s.newFixture(t)
	ev := event(destURL(1))
	f.enqueue(at(0), policy, ev)
	f.claimOne(ev.URL, at(0), ev.ID)
	if next := f.claimNone(ev.URL, at(time.Hour)); next != 0 {
		t.Errorf("next = %d with the only job claimed, want 0", next)
	}
}

// Concurrent Claims of one destination hand out every job exactly once.
func claimIsExclusiveUnderConcurrency(t *testing.T, s *suite) {
	f := s.newFixture(t)
	const events, claimers = 300, 8
	url := destURL(1)
	var evs []store.Event
	for range events {
		evs = append(evs, event(url))
	}
	f.enqueue(at(0), policy, evs...)
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range events { // bounded: each round claims at least one job or stops
				jobs, _, err := f.store.Claim(store.Destination(url), at(0), 5)
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				mu.Lock()
				for _, j := range jobs {
					seen[j.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != events {
		t.Errorf("%d distinct jobs claimed, want %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
}

// A released job is due again as it was: same due time, same attempts.
func releasedJobIsDueAgain(t *testing.T, s *suite) {
	f := s.newFixture(t)
	ev := event(destURL(1))
	f.enqueue(at(0), policy, ev)
	j := f.claimOne(ev.URL, at(0), ev.ID)
	f.store.Release([]store.Job{j})
	again := f.claimOne(ev.URL, at(0), ev.ID)
	if again.Due != j.Due || again.Attempts != j.Attempts || string(again.Body) != string(ev.Body) {
		t.Errorf("released job came back as %+v, was %+v", again, j)
	}
}

// Claims die with their process: a restart finds claimed jobs due again.
func claimedJobsSurviveReopenAsDue(t *testing.T, s *suite) {
	needsReopen(t, s)
	f := s.newFixture(t)
	ev := event(destURL(1))
	f.enqueue(at(0), policy, ev)
	f.claimOne(ev.URL, at(0), ev.ID)
	f.restart()
	f.claimOne(ev.URL, at(0), ev.ID)
}
