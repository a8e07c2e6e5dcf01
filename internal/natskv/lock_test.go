package natskv

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sidehook/sidehook/internal/natstest"
)

// Two clients incrementing one counter under the lock never lose an increment: the lock is exclusive across
// connections, and a waiter gets it once the holder unlocks.
func TestLockIsExclusiveAcrossClients(t *testing.T) {
	node := natstest.StartNode(t)
	a, _ := openTest(t, []string{node.URL()}, 1, 0)
	b, _ := openTest(t, []string{node.URL()}, 1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if err := a.Lock(ctx, "counter"); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	err := b.Lock(short, "counter")
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b.Lock while a holds it: %v, want the deadline", err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, "counter") }()
	if err := a.Unlock(ctx, "counter"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("b did not get the lock within 1s of its release")
	}
	if err := b.Unlock(ctx, "counter"); err != nil {
		t.Fatal(err)
	}
	if err := b.Unlock(ctx, "counter"); err == nil {
		t.Fatal("unlocking a lock not held: no error")
	}

	const rounds = 15
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, s := range []*Storage{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := increment(ctx, s); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	v, err := a.Load(ctx, "counter")
	if err != nil || string(v) != strconv.Itoa(2*rounds) {
		t.Fatalf("counter = %q, %v; want %d", v, err, 2*rounds)
	}
}

func increment(ctx context.Context, s *Storage) error {
	if err := s.Lock(ctx, "counter"); err != nil {
		return err
	}
	defer func() { _ = s.Unlock(ctx, "counter") }()
	n := 0
	if v, err := s.Load(ctx, "counter"); err == nil {
		n, _ = strconv.Atoi(string(v))
	}
	return s.Store(ctx, "counter", []byte(strconv.Itoa(n+1)))
}

// A live holder keeps its lock past its TTL by renewing it; once it dies (no unlock, no renewal) another
// client takes the lock when the TTL runs out, and the dead holder's late unlock cannot release it.
func TestLockRenewedWhileHeldAndTakenOverAfterHolderDies(t *testing.T) {
	node := natstest.StartNode(t)
	const ttl = time.Second
	a, _ := openTest(t, []string{node.URL()}, 1, ttl)
	b, _ := openTest(t, []string{node.URL()}, 1, ttl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if err := a.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	held := a.locks["l"]
	a.mu.Unlock()
	revision := func() uint64 { held.mu.Lock(); defer held.mu.Unlock(); return held.rev }
	first := revision()
	renewals := 0
	last := first
	waitFor(t, 10*time.Second, "four renewals (longer than the TTL)", func() bool {
		if r := revision(); r != last {
			renewals, last = renewals+1, r
		}
		return renewals >= 4
	})
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	err := b.Lock(short, "l")
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b.Lock while a renews it: %v, want the deadline", err)
	}

	crash(a)
	died := time.Now()
	if err := b.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	t.Logf("lock taken over %v after its holder died (TTL %v)", time.Since(died).Round(time.Millisecond), ttl)
	// The dead holder's entry, released by revision (through b's live connection), is no longer the lock's.
	if err := b.release("l", held); err == nil || !strings.Contains(err.Error(), "taken over") {
		t.Fatalf("releasing the dead holder's revision: %v, want refused as taken over", err)
	}
	if err := b.Unlock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
}

// Close releases the locks still held (another client takes them at once, not after their TTL), and nothing
// starts on a closed storage.
func TestCloseReleasesLocksAndEndsTheStorage(t *testing.T) {
	node := natstest.StartNode(t)
	a, _ := openTest(t, []string{node.URL()}, 1, time.Minute)
	b, _ := openTest(t, []string{node.URL()}, 1, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	changed, err := a.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for range changed { // a pending signal of the watch's start, at most; Close has closed the channel
	}
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	if err := b.Lock(short, "l"); err != nil {
		t.Fatalf("the lock a held at Close: %v", err)
	}
	if err := a.Lock(ctx, "other"); !errors.Is(err, errClosed) {
		t.Errorf("Lock after Close: %v, want errClosed", err)
	}
	if _, err := a.Watch(ctx, "k"); err == nil {
		t.Error("Watch after Close: no error")
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
