package caddymodule

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/sidehook/sidehook/matcher"
	"github.com/sidehook/sidehook/queue"
)

// usageTestApp is a provisioned sidehook app of one config whose only handler uses the queue in dir; delivery
// is paused, so the tests only store.
func usageTestApp(t *testing.T, dir string) *App {
	t.Helper()
	store, err := matcher.NewStore(matcher.StoreConfig{Storage: &certmagic.FileStorage{Path: filepath.Join(filepath.Dir(dir), "storage")}})
	if err != nil {
		t.Fatal(err)
	}
	a := &App{logger: zap.NewNop(), dirs: map[string]*dirConfig{}, entries: map[string]*queueEntry{}, inFlight: map[string]int{}}
	if err := a.register(dir, queue.Config{Paused: true}, store, nil, func(l *zap.Logger) (*queue.Queue, error) { return queue.Open(dir, l) }, false); err != nil {
		t.Fatal(err)
	}
	return a
}

func usageTestDir(t *testing.T) string { return filepath.Join(t.TempDir(), "queue") }

func startApp(t *testing.T, a *App) {
	t.Helper()
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
}

func stopApp(t *testing.T, a *App) {
	t.Helper()
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
}

// pooled reports whether a queue for dir is open in the pool.
func pooled(dir string) bool {
	found := false
	queues.Range(func(k, _ any) bool {
		found = found || k == dir
		return !found
	})
	return found
}

// storeOne stores one message through e and returns the error.
func storeOne(e *queueEntry) error {
	_, err := e.q.Enqueue(context.Background(), []queue.Message{{
		ID: queue.NewMessageID(), SubscriptionUID: "sub", URL: "http://127.0.0.1:9/hook", Body: []byte(`{}`), Created: time.Now(),
	}})
	return err
}

// A request that holds a usage when its config stops can still store its events; a request of that config
// that asks after Stop gets the same open queue; the queue is closed when the last of them ends, not before.
func TestStoppedAppLeavesTheQueueOpenUntilItsLastRequestEnds(t *testing.T) {
	dir := usageTestDir(t)
	a := usageTestApp(t, dir)
	startApp(t, a)
	first, releaseFirst, err := a.useQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	stopApp(t, a)
	if err := storeOne(first); err != nil {
		t.Fatalf("a request in flight at Stop could not store its event: %v", err)
	}
	second, releaseSecond, err := a.useQueue(dir)
	if err != nil {
		t.Fatalf("a request arriving after Stop found no queue: %v", err)
	}
	if second != first {
		t.Errorf("a request arriving after Stop, while the queue is still in use, got another queue")
	}
	releaseFirst()
	if !pooled(dir) {
		t.Fatal("the queue was closed while a request still used it")
	}
	if err := storeOne(second); err != nil {
		t.Fatalf("the second request could not store its event: %v", err)
	}
	releaseSecond()
	if pooled(dir) {
		t.Error("the queue is still in the pool after its last request ended")
	}
	if err := storeOne(first); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("storing after the last request ended: got %v, want the queue closed", err)
	}
}

// On a reload the new config holds the queue before the old one stops: a request of the old config asking
// after its Stop borrows that same open queue, and gives the usage back (the pool does not keep it open).
func TestUseAfterStopBorrowsTheNewConfigsQueue(t *testing.T) {
	dir := usageTestDir(t)
	old, next := usageTestApp(t, dir), usageTestApp(t, dir)
	startApp(t, old)
	startApp(t, next)
	stopApp(t, old)
	nextEntry, releaseNext, err := next.useQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	releaseNext()
	borrowed, release, err := old.useQueue(dir)
	if err != nil {
		t.Fatalf("a request of the stopped config found no queue: %v", err)
	}
	if borrowed != nextEntry {
		t.Error("the stopped config's request did not get the new config's open queue")
	}
	if err := storeOne(borrowed); err != nil {
		t.Fatalf("storing through the borrowed queue: %v", err)
	}
	release()
	if !pooled(dir) {
		t.Fatal("giving back a borrowed usage closed the new config's queue")
	}
	stopApp(t, next)
	if pooled(dir) {
		t.Error("the queue stayed open after the last config stopped: the borrowed usage was not given back")
	}
}

// When no config holds the queue any more (the config was unloaded), a request still running on it opens the
// queue for its write and closes it again; the event is there for the next config that opens the directory.
func TestUseAfterTheLastConfigStoppedOpensTheQueueForThatWrite(t *testing.T) {
	dir := usageTestDir(t)
	a := usageTestApp(t, dir)
	startApp(t, a)
	stopApp(t, a)
	if pooled(dir) {
		t.Fatal("Stop without requests in flight left the queue open")
	}
	e, release, err := a.useQueue(dir)
	if err != nil {
		t.Fatalf("a request after the last config stopped found no queue: %v", err)
	}
	if err := storeOne(e); err != nil {
		t.Fatalf("storing: %v", err)
	}
	release()
	if pooled(dir) {
		t.Fatal("the queue opened for one write stayed open")
	}
	b := usageTestApp(t, dir)
	startApp(t, b)
	defer stopApp(t, b)
	reopened, releaseReopened, err := b.useQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseReopened()
	if depth := reopened.q.Stats().Depth; depth != 1 {
		t.Errorf("the next config finds %d queued events, want the 1 stored after the unload", depth)
	}
}

// Requests of the old config racing with its Stop on a reload: every one finds an open queue and stores its
// event, and when the new config stops too, no usage is left behind in the pool. Run it with -race.
func TestUsesRacingWithStopAllStoreAndLeaveNothingOpen(t *testing.T) {
	const (
		requests = 8
		each     = 25
	)
	dir := usageTestDir(t)
	old, next := usageTestApp(t, dir), usageTestApp(t, dir)
	startApp(t, old)
	startApp(t, next)
	var (
		wg      sync.WaitGroup
		started atomic.Int32
		failed  atomic.Int32
	)
	for range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				e, release, err := old.useQueue(dir)
				started.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				if storeOne(e) != nil {
					failed.Add(1)
				}
				release()
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for started.Load() < requests*each/4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling until some requests ran, bounded by the deadline
	}
	stopApp(t, old)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d requests racing with Stop could not store their event", n, requests*each)
	}
	e, release, err := next.useQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	if depth := e.q.Stats().Depth; depth != requests*each {
		t.Errorf("%d events queued, want %d", depth, requests*each)
	}
	release()
	stopApp(t, next)
	if pooled(dir) {
		t.Error("the queue stayed open after both configs stopped: a usage was not given back")
	}
}
