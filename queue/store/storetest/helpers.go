package storetest

import (
	"context"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

// enqueue stores events at now, failing the test on an error.
func (f *fixture) enqueue(now int64, p store.Policy, events ...store.Event) store.EnqueueResult {
	f.t.Helper()
	res, err := f.store.Enqueue(context.Background(), events, time.Unix(0, now), p)
	if err != nil {
		f.t.Fatalf("Enqueue: %v", err)
	}
	if len(res.Queued) != len(events) {
		f.t.Fatalf("Enqueue of %d events answered %d results", len(events), len(res.Queued))
	}
	return res
}

// claim claims up to max jobs of url's destination due by now.
func (f *fixture) claim(url string, now int64, max int) ([]store.Job, int64) {
	f.t.Helper()
	jobs, next, err := f.store.Claim(store.Destination(url), now, max)
	if err != nil {
		f.t.Fatalf("Claim: %v", err)
	}
	return jobs, next
}

// claimOne claims the one job of url's destination due by now, failing unless it is want.
func (f *fixture) claimOne(url string, now int64, want string) store.Job {
	f.t.Helper()
	jobs, _ := f.claim(url, now, 10)
	if len(jobs) != 1 || jobs[0].ID != want {
		f.t.Fatalf("Claim at %v: %v, want just %s", time.Unix(0, now).UTC(), ids(jobs), want)
	}
	return jobs[0]
}

// claimNone fails if a job of url's destination is due by now, and returns next.
func (f *fixture) claimNone(url string, now int64) int64 {
	f.t.Helper()
	jobs, next := f.claim(url, now, 10)
	if len(jobs) != 0 {
		f.t.Fatalf("Claim at %v returned %v, want nothing", time.Unix(0, now).UTC(), ids(jobs))
	}
	return next
}

// record records outcomes, failing the test on an error.
func (f *fixture) record(outcomes ...store.Outcome) {
	f.t.Helper()
	if err := f.store.Record(outcomes, policy); err != nil {
		f.t.Fatalf("Record: %v", err)
	}
}

// log returns the log item of id, failing when there is none.
func (f *fixture) log(id string) store.LogItem {
	f.t.Helper()
	item, found, err := f.store.Log(id)
	if err != nil || !found {
		f.t.Fatalf("Log(%s): found %v, err %v", id, found, err)
	}
	return item
}

// jobs is Jobs, failing the test on an error.
func (f *fixture) jobs() int {
	f.t.Helper()
	n, err := f.store.Jobs()
	if err != nil {
		f.t.Fatalf("Jobs: %v", err)
	}
	return n
}

// delivered is the outcome of a 200 for j, ending at end.
func delivered(j store.Job, end int64) store.Outcome {
	return store.Outcome{Job: j, Status: store.StatusDelivered, Attempts: j.Attempts + 1, End: end,
		Requested: true, ResponseCode: 200, ResponseData: []byte(`{"ok":true}`)}
}

// retrying is the outcome of a 500 for j, due again at next.
func retrying(j store.Job, end, next int64) store.Outcome {
	return store.Outcome{Job: j, Status: store.StatusRetrying, Attempts: j.Attempts + 1, End: end, NextDue: next,
		Requested: true, ResponseCode: 500, ResponseData: []byte(`{"n":500}`), Error: "receiver answered 500"}
}

func ids(jobs []store.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}
