package memstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

var policy = store.Policy{DailyLimit: 0, KeepLogs: time.Hour, PendingSpan: time.Hour}

func event(i int, url string) store.Event {
	return store.Event{ID: fmt.Sprintf("msg_%04d", i), SubscriptionUID: "sub", ClientID: "42", UserID: "7",
		URL: url, Body: []byte(`{}`), Created: time.Now().UnixNano()}
}

// watcher records the store's announcements.
type watcher struct {
	mu  sync.Mutex
	due map[string]int64
}

func (w *watcher) note(dest string, due int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.due == nil {
		w.due = make(map[string]int64)
	}
	if d, ok := w.due[dest]; !ok || due < d {
		w.due[dest] = due
	}
}

func (w *watcher) take(dest string) (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, ok := w.due[dest]
	delete(w.due, dest)
	return d, ok
}

func enqueue(t *testing.T, s *Store, now time.Time, p store.Policy, events ...store.Event) store.EnqueueResult {
	t.Helper()
	res, err := s.Enqueue(context.Background(), events, now, p)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestClaimsAreExclusiveAndInDueOrder(t *testing.T) {
	s := New()
	now := time.Now()
	for i := range 5 {
		enqueue(t, s, now.Add(time.Duration(i)), policy, event(i, "http://a:1/"))
	}
	first, next, err := s.Claim("a:1", now.Add(time.Hour).UnixNano(), 3)
	if err != nil || len(first) != 3 || next != now.Add(3).UnixNano() {
		t.Fatalf("Claim = %d jobs, next %d, %v", len(first), next, err)
	}
	for i, j := range first {
		if j.ID != fmt.Sprintf("msg_%04d", i) {
			t.Errorf("job %d is %s: not in due order", i, j.ID)
		}
	}
	rest, next, _ := s.Claim("a:1", now.Add(time.Hour).UnixNano(), 10)
	if len(rest) != 2 || next != 0 {
		t.Errorf("second Claim = %d jobs, next %d; want the 2 unclaimed, none left", len(rest), next)
	}
	if again, _, _ := s.Claim("a:1", now.Add(time.Hour).UnixNano(), 10); len(again) != 0 {
		t.Errorf("%d jobs claimed twice", len(again))
	}
	s.Release(first[:1])
	if again, _, _ := s.Claim("a:1", now.Add(time.Hour).UnixNano(), 10); len(again) != 1 || again[0].ID != first[0].ID {
		t.Errorf("after Release, Claim = %v; want the released job", again)
	}
}

func TestRecordIsAllOrNoneAndEndsTheClaims(t *testing.T) {
	s := New()
	now := time.Now()
	enqueue(t, s, now, policy, event(1, "http://a:1/"), event(2, "http://a:1/"))
	jobs, _, _ := s.Claim("a:1", now.UnixNano(), 2)
	good := store.Outcome{Job: jobs[0], Status: store.StatusDelivered, Attempts: 1, End: now.UnixNano()}
	bad := store.Outcome{Job: jobs[1], Status: store.StatusRetrying, Attempts: 1} // no NextDue
	if err := s.Record([]store.Outcome{good, bad}, policy); err == nil {
		t.Fatal("Record of an invalid batch succeeded")
	}
	if item, _, _ := s.Log(jobs[0].ID); item.Status != store.StatusPending {
		t.Errorf("a failed batch wrote %s", item.Status)
	}
	again, _, _ := s.Claim("a:1", now.UnixNano(), 2)
	if len(again) != 2 {
		t.Fatalf("after a failed Record, %d jobs due again, want 2", len(again))
	}
	good.Job, bad.Job, bad.NextDue = again[0], again[1], now.Add(time.Minute).UnixNano()
	if err := s.Record([]store.Outcome{good, bad}, policy); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Jobs(); n != 1 {
		t.Errorf("%d jobs after one delivered and one retrying, want 1", n)
	}
	if item, _, _ := s.Log(again[0].ID); item.Status != store.StatusDelivered || item.IsProcessed != "1" {
		t.Errorf("delivered item logged as %+v", item)
	}
}

func TestWatchAnnouncesEveryDueJob(t *testing.T) {
	s := New()
	now := time.Now()
	enqueue(t, s, now, policy, event(1, "http://a:1/"))
	var w watcher
	s.Watch(w.note)
	if due, ok := w.take("a:1"); !ok || due != now.UnixNano() {
		t.Errorf("Watch did not announce the existing job (%d, %v)", due, ok)
	}
	enqueue(t, s, now, policy, event(2, "http://b:1/"))
	if _, ok := w.take("b:1"); !ok {
		t.Error("Enqueue was not announced")
	}
	jobs, _, _ := s.Claim("b:1", now.UnixNano(), 1)
	later := now.Add(time.Minute).UnixNano()
	_ = s.Record([]store.Outcome{{Job: jobs[0], Status: store.StatusRetrying, Attempts: 1, NextDue: later}}, policy)
	if due, ok := w.take("b:1"); !ok || due != later {
		t.Errorf("a retrying Record was announced at %d (%v), want %d", due, ok, later)
	}
	jobs, _, _ = s.Claim("a:1", now.UnixNano(), 1)
	s.Release(jobs)
	if _, ok := w.take("a:1"); !ok {
		t.Error("Release was not announced")
	}
	if _, err := s.Retry(jobs[0].ID, now, policy); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.take("a:1"); !ok {
		t.Error("Retry was not announced")
	}
}

func TestDailyLimitIsExact(t *testing.T) {
	s := New()
	p := policy
	p.DailyLimit = 3
	now := time.Now()
	var events []store.Event
	for i := range 5 {
		events = append(events, event(i, "http://a:1/"))
	}
	res := enqueue(t, s, now, p, events...)
	queued := 0
	for _, q := range res.Queued {
		if q {
			queued++
		}
	}
	if queued != 3 {
		t.Errorf("%d of 5 queued under a limit of 3", queued)
	}
	if item, _, _ := s.Log(events[4].ID); item.Status != store.StatusLimited || item.IsProcessed != "1" {
		t.Errorf("event past the limit logged as %+v", item)
	}
	if _, err := s.Retry(events[4].ID, now, p); err != store.ErrNotRetryable {
		t.Errorf("Retry of a limited item = %v, want ErrNotRetryable", err)
	}
	if _, err := s.Retry("msg_nope", now, p); err != store.ErrNotFound {
		t.Errorf("Retry of an unknown id = %v, want ErrNotFound", err)
	}
}

func TestRetryWaitsForTheClaim(t *testing.T) {
	s := New()
	now := time.Now()
	enqueue(t, s, now, policy, event(1, "http://a:1/"))
	jobs, _, _ := s.Claim("a:1", now.UnixNano(), 1)
	retried := make(chan bool, 1)
	go func() {
		reopened, _ := s.Retry(jobs[0].ID, now, policy)
		retried <- reopened
	}()
	for deadline := time.Now().Add(5 * time.Second); s.RetriesWaiting() == 0; <-time.After(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Retry did not wait for the claim")
		}
	}
	_ = s.Record([]store.Outcome{{Job: jobs[0], Status: store.StatusDead, Attempts: 8, End: now.UnixNano()}}, policy)
	if reopened := <-retried; !reopened {
		t.Error("Retry of a dead job did not reopen it")
	}
	if item, _, _ := s.Log(jobs[0].ID); item.Status != store.StatusRetrying || item.Attempts != 8 || item.IsProcessed != "0" {
		t.Errorf("reopened item = %+v, want retrying with its 8 attempts", item)
	}
}

func TestLogsNewestFirstWithFilters(t *testing.T) {
	s := New()
	now := time.Now()
	for i := range 15 {
		ev := event(i, "http://a:1/")
		if i%2 == 1 {
			ev.SubscriptionUID = "hidden"
		}
		if i == 14 {
			ev.ClientID = "other"
		}
		enqueue(t, s, now, policy, ev)
	}
	items, _ := s.Logs(store.LogQuery{ClientID: "42"})
	if len(items) != store.DefaultLogLimit || items[0].ID != "msg_0013" || items[9].ID != "msg_0004" {
		t.Errorf("Logs = %d items from %s; want the client's %d newest first", len(items), items[0].ID, store.DefaultLogLimit)
	}
	items, _ = s.Logs(store.LogQuery{ClientID: "42", Limit: 5, Hide: func(uid string) bool { return uid == "hidden" }})
	if len(items) != 5 || items[0].ID != "msg_0012" || items[4].ID != "msg_0004" {
		t.Errorf("Logs with Hide = %v; want 5 visible items before the limit", items)
	}
	jobs, _, _ := s.Claim("a:1", now.UnixNano(), 1)
	_ = s.Record([]store.Outcome{{Job: jobs[0], Status: store.StatusDelivered, Attempts: 1, End: now.UnixNano()}}, policy)
	items, _ = s.Logs(store.LogQuery{AnyClient: true, Status: store.StatusDelivered})
	if len(items) != 1 || items[0].ID != jobs[0].ID {
		t.Errorf("Logs by status = %v", items)
	}
}
