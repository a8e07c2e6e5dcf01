package jsstore

import (
	"context"
	"testing"
	"time"

	"github.com/sidehook/sidehook/internal/natstest"
	"github.com/sidehook/sidehook/queue/store"
)

// A delivered event's log and body leave the streams by themselves (per-message TTL) once KeepLogs has passed,
// and the log is not shown meanwhile past its expiry; the job was deleted at once.
func TestFinalLogsExpireFromTheStreams(t *testing.T) {
	srv := natstest.StartNode(t)
	s := openStore(t, testConfig([]string{srv.URL()}, 1))
	p := store.Policy{KeepLogs: time.Second, PendingSpan: time.Second}
	ev := event(1, hookURL)
	if _, err := s.Enqueue(context.Background(), []store.Event{ev}, time.Now(), p); err != nil {
		t.Fatal(err)
	}
	jobs, _, err := s.Claim(store.Destination(hookURL), time.Now().UnixNano(), 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Claim = %d jobs, %v", len(jobs), err)
	}
	o := store.Outcome{Job: jobs[0], Status: store.StatusDelivered, Attempts: 1, End: time.Now().UnixNano()}
	if err := s.Record([]store.Outcome{o}, p); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Jobs(); err != nil || n != 0 {
		t.Fatalf("Jobs after a delivery = %d, %v", n, err)
	}
	stream, err := s.js.Stream(t.Context(), "KV_"+s.b.events.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the log and the event expiring", func() bool {
		events, err := stream.Info(t.Context())
		logs, err2 := s.b.logsStream.Info(t.Context())
		return err == nil && err2 == nil && events.State.Msgs == 0 && logs.State.Msgs == 0
	})
	if _, found, err := s.Log(ev.ID); found || err != nil {
		t.Errorf("Log of an expired item: found %v, err %v", found, err)
	}
}

// A job kept past its event's expiry (which the retry schedule never reaches) cannot be attempted: Claim
// deletes it instead of failing on it for ever.
func TestJobWithoutItsEventIsDropped(t *testing.T) {
	srv := natstest.StartNode(t)
	s := openStore(t, testConfig([]string{srv.URL()}, 1))
	p := store.Policy{KeepLogs: time.Second}
	if _, err := s.Enqueue(context.Background(), []store.Event{event(1, hookURL)}, time.Now(), p); err != nil {
		t.Fatal(err)
	}
	stream, err := s.js.Stream(t.Context(), "KV_"+s.b.events.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the event expiring", func() bool {
		info, err := stream.Info(t.Context())
		return err == nil && info.State.Msgs == 0
	})
	jobs, _, err := s.Claim(store.Destination(hookURL), time.Now().UnixNano(), 10)
	if err != nil || len(jobs) != 0 {
		t.Fatalf("Claim of a job without its event = %v, %v; want nothing and no error", jobs, err)
	}
	if n, err := s.Jobs(); err != nil || n != 0 {
		t.Errorf("Jobs = %d, %v; want the job dropped", n, err)
	}
}
