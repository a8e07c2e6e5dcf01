package jsstore

import (
	"context"
	"testing"
	"time"

	"github.com/sidehook/sidehook/internal/natstest"
	"github.com/sidehook/sidehook/queue/store"
)

// A process that dies holding a claim (its connection gone, nothing released) keeps it until the lease runs
// out; then another process's watch announces the job and its Claim gets it.
func TestClaimOfADeadStoreIsDueAfterItsLease(t *testing.T) {
	srv := natstest.StartNode(t)
	cfg := testConfig([]string{srv.URL()}, 1)
	cfg.ClaimLease = 2 * time.Second
	dead, live := openStore(t, cfg), openStore(t, cfg)
	w := &watcher{}
	live.Watch(w.due)
	ev := event(1, hookURL)
	dest := store.Destination(hookURL)
	if _, err := dead.Enqueue(context.Background(), []store.Event{ev}, time.Now(), policy); err != nil {
		t.Fatal(err)
	}
	jobs, _, err := dead.Claim(dest, time.Now().UnixNano(), 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Claim = %d jobs, %v", len(jobs), err)
	}
	claimed := time.Now()
	dead.nc.Close() // a crash: the claim is neither recorded nor released
	if jobs, _, _ := live.Claim(dest, time.Now().UnixNano(), 10); len(jobs) != 0 {
		t.Fatal("the job of a live claim was claimed again")
	}
	mark := w.mark()
	waitFor(t, 10*time.Second, "the watch announcing the lapsed claim", func() bool { return w.announced(dest, mark) })
	if since := time.Since(claimed); since < cfg.ClaimLease {
		t.Errorf("announced %v after the claim, before its lease of %v ran out", since, cfg.ClaimLease)
	}
	again, _, err := live.Claim(dest, time.Now().UnixNano(), 10)
	if err != nil || len(again) != 1 || again[0].ID != ev.ID {
		t.Fatalf("Claim after the lease = %v, %v; want %s", again, err, ev.ID)
	}
}

// A store whose claim ran out while its attempt went on, and whose job another store claimed since, cannot
// record over the other's attempt: its Record fails and writes nothing; the other's Record lands.
func TestRecordOfALapsedClaimWritesNothing(t *testing.T) {
	srv := natstest.StartNode(t)
	cfg := testConfig([]string{srv.URL()}, 1)
	cfg.ClaimLease = time.Second
	slow, fast := openStore(t, cfg), openStore(t, cfg)
	ev := event(1, hookURL)
	dest := store.Destination(hookURL)
	if _, err := slow.Enqueue(context.Background(), []store.Event{ev}, time.Now(), policy); err != nil {
		t.Fatal(err)
	}
	lapsed, _, err := slow.Claim(dest, time.Now().UnixNano(), 1)
	if err != nil || len(lapsed) != 1 {
		t.Fatalf("Claim = %d jobs, %v", len(lapsed), err)
	}
	var taken []store.Job
	waitFor(t, 10*time.Second, "the other store claiming the job after the lease", func() bool {
		taken, _, err = fast.Claim(dest, time.Now().UnixNano(), 1)
		return err == nil && len(taken) == 1
	})
	end := time.Now().UnixNano()
	late := store.Outcome{Job: lapsed[0], Status: store.StatusDead, Attempts: 1, End: end, Error: "late"}
	if err := slow.Record([]store.Outcome{late}, policy); err == nil {
		t.Fatal("Record of a lapsed claim succeeded")
	}
	if item, _, _ := fast.Log(ev.ID); item.Status != store.StatusPending {
		t.Fatalf("log after the lapsed Record: %+v, want it untouched", item)
	}
	done := store.Outcome{Job: taken[0], Status: store.StatusDelivered, Attempts: 1, End: end}
	if err := fast.Record([]store.Outcome{done}, policy); err != nil {
		t.Fatalf("Record of the live claim: %v", err)
	}
	if item, _, _ := fast.Log(ev.ID); item.Status != store.StatusDelivered {
		t.Errorf("log after the live Record: %+v", item)
	}
}
