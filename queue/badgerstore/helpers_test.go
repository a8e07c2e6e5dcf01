package badgerstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, deadline time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("condition not met within %v", deadline)
		}
		<-time.After(5 * time.Millisecond) // poll interval, not synchronisation
	}
}

// openStore opens a store in dir (a fresh one for ""), closed at cleanup.
func openStore(t testing.TB, dir string) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Open(dir, zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// testPolicy keeps logs an hour, with no daily limit.
var testPolicy = store.Policy{KeepLogs: time.Hour, PendingSpan: time.Hour}

var idCounter atomic.Uint64

const testURL = "http://127.0.0.1:1/hook"

// newID is an id of the engine's form: "msg_", 10 characters of unix milliseconds and 16 more
// that only need to be unique here.
func newID() string {
	ms := uint64(time.Now().UnixMilli())
	var out [26]byte
	for i := 9; i >= 0; i-- {
		out[i] = crockford[ms&31]
		ms >>= 5
	}
	n := idCounter.Add(1)
	for i := 25; i >= 10; i-- {
		out[i] = crockford[n&31]
		n >>= 5
	}
	return "msg_" + string(out[:])
}

// newEvent is an event for url with a small body.
func newEvent(url string) store.Event {
	id := newID()
	return store.Event{ID: id, SubscriptionUID: "sub", ClientID: "42", UserID: "7", URL: url,
		Body: []byte(`{"event":"CandidateService.update","id":"` + id + `"}`), Created: time.Now().UnixNano()}
}

// enqueue stores events now, failing the test on an error.
func enqueue(t testing.TB, s *Store, events ...store.Event) store.EnqueueResult {
	t.Helper()
	res, err := s.Enqueue(context.Background(), events, time.Now(), testPolicy)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return res
}

// claimAll claims every job of url's destination due by now, max at a time.
func claimAll(t testing.TB, s *Store, url string, now int64, max int) []store.Job {
	t.Helper()
	var all []store.Job
	for {
		jobs, _, err := s.Claim(store.Destination(url), now, max)
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		if len(jobs) == 0 {
			return all
		}
		all = append(all, jobs...)
	}
}

// deliveredNow is the outcome of a 200 for j.
func deliveredNow(j store.Job) store.Outcome {
	return store.Outcome{Job: j, Status: store.StatusDelivered, Attempts: j.Attempts + 1, End: time.Now().UnixNano(), Requested: true, ResponseCode: 200}
}

// logOf returns the log item of id, failing the test when it is missing.
func logOf(t testing.TB, s *Store, id string) store.LogItem {
	t.Helper()
	item, ok, err := s.Log(id)
	if err != nil || !ok {
		t.Fatalf("Log(%s): ok=%v err=%v", id, ok, err)
	}
	return item
}

// body2K is a 2 KiB JSON body of random (barely compressible) text.
func body2K() []byte {
	raw := make([]byte, 1500)
	_, _ = rand.Read(raw)
	return []byte(`{"event":"CandidateService.update","data":"` + base64.StdEncoding.EncodeToString(raw)[:2000] + `"}`)
}
