package storetest

import (
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

func recordRules() []rule {
	return []rule{
		{"RetryingOutcomeIsDueAtNextDue", retryingOutcomeIsDueAtNextDue},
		{"FinalOutcomeDeletesJobAndLogIsFinal", finalOutcomeDeletesJobAndLogIsFinal},
		{"OutcomeWithoutRequestKeepsThePreviousAnswer", outcomeWithoutRequestKeepsThePreviousAnswer},
		{"RecordIsAllOrNone", recordIsAllOrNone},
		{"RecordedOutcomesSurviveReopen", recordedOutcomesSurviveReopen},
	}
}

// A retrying outcome moves the job to NextDue, with its attempt counted and the answer logged.
func retryingOutcomeIsDueAtNextDue(t *testing.T, s *suite) {
	f := s.newFixture(t)
	ev := event(destURL(1))
	f.enqueue(at(0), policy, ev)
	j := f.claimOne(ev.URL, at(0), ev.ID)
	f.record(retrying(j, at(time.Second), at(time.Minute)))
	if next := f.claimNone(ev.URL, at(time.Minute-1)); next != at(time.Minute) {
		t.Errorf("next = %d, want NextDue %d", next, at(time.Minute))
	}
	again := f.claimOne(ev.URL, at(time.Minute), ev.ID)
	if again.Attempts != 1 || again.Due != at(time.Minute) || string(again.Body) != string(ev.Body) {
		t.Errorf("job after a retrying outcome: %+v", again)
	}
	item := f.log(ev.ID)
	if item.Status != store.StatusRetrying || item.Attempts != 1 || item.ResponseCode != 500 ||
		item.ResponseData != `{"n":500}` || item.IsProcessed != "0" || item.NextAttempt == "" || item.Error == "" {
		t.Errorf("log after a retrying outcome: %+v", item)
	}
}

// A final outcome deletes the job; its log item is final and shows the outcome.
func finalOutcomeDeletesJobAndLogIsFinal(t *testing.T, s *suite) {
	f := s.newFixture(t)
	for _, status := range []string{store.StatusDelivered, store.StatusDead, store.StatusGone} {
		ev := event(destURL(1))
		f.enqueue(at(0), policy, ev)
		j := f.claimOne(ev.URL, at(0), ev.ID)
		o := delivered(j, at(time.Second))
		o.Status = status
		f.record(o)
		if next := f.claimNone(ev.URL, at(time.Hour)); next != 0 {
			t.Errorf("%s: a job is left (next %d)", status, next)
		}
		item := f.log(ev.ID)
		if item.Status != status || item.IsProcessed != "1" || item.Processed == "" || item.NextAttempt != "" ||
			item.Attempts != 1 || item.ResponseCode != 200 || item.RequestData != string(ev.Body) {
			t.Errorf("%s: log %+v", status, item)
		}
	}
	if n := f.jobs(); n != 0 {
		t.Errorf("Jobs = %d after final outcomes only, want 0", n)
	}
}

// An outcome without a request (a vanished subscription) keeps the previous attempt's answer.
func outcomeWithoutRequestKeepsThePreviousAnswer(t *testing.T, s *suite) {
	f := s.newFixture(t)
	ev := event(destURL(1))
	f.enqueue(at(0), policy, ev)
	j := f.claimOne(ev.URL, at(0), ev.ID)
	f.record(retrying(j, at(time.Second), at(time.Minute)))
	j = f.claimOne(ev.URL, at(time.Minute), ev.ID)
	f.record(store.Outcome{Job: j, Status: store.StatusGone, Attempts: j.Attempts, End: at(time.Minute), Error: "subscription deleted"})
	if item := f.log(ev.ID); item.Status != store.StatusGone || item.ResponseCode != 500 || item.ResponseData != `{"n":500}` || item.Attempts != 1 {
		t.Errorf("log after a gone outcome without request: %+v", item)
	}
}

// A batch with one outcome the contract does not allow (an attempt is never "limited") fails
// whole: the valid outcome beside it is not written, and both jobs stay stored.
func recordIsAllOrNone(t *testing.T, s *suite) {
	f := s.newFixture(t)
	a, b := event(destURL(1)), event(destURL(1))
	f.enqueue(at(0), policy, a, b)
	jobs, _ := f.claim(a.URL, at(0), 2)
	if len(jobs) != 2 {
		t.Fatalf("claimed %d jobs, want 2", len(jobs))
	}
	bad := delivered(jobs[1], at(time.Second))
	bad.Status = store.StatusLimited
	if err := f.store.Record([]store.Outcome{delivered(jobs[0], at(time.Second)), bad}, policy); err == nil {
		t.Fatal("Record of a batch with a limited outcome succeeded")
	}
	for _, id := range []string{a.ID, b.ID} {
		if item := f.log(id); item.Status != store.StatusPending || item.Attempts != 0 {
			t.Errorf("%s after a failed Record: %+v, want it untouched", id, item)
		}
	}
	if n := f.jobs(); n != 2 {
		t.Errorf("Jobs after a failed Record = %d, want 2", n)
	}
}

// Recorded outcomes are durable.
func recordedOutcomesSurviveReopen(t *testing.T, s *suite) {
	needsReopen(t, s)
	f := s.newFixture(t)
	a, b := event(destURL(1)), event(destURL(1))
	f.enqueue(at(0), policy, a, b)
	jobs, _ := f.claim(a.URL, at(0), 2)
	f.record(delivered(jobs[0], at(time.Second)), retrying(jobs[1], at(time.Second), at(time.Minute)))
	f.restart()
	if item := f.log(jobs[0].ID); item.Status != store.StatusDelivered {
		t.Errorf("delivered item after reopen: %+v", item)
	}
	f.claimOne(a.URL, at(time.Minute), jobs[1].ID)
}
