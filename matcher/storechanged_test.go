package matcher

import (
	"context"
	"testing"
	"time"
)

// newSignalledStore opens a Store whose timer never fires within a test, so only Changed can make it poll.
func newSignalledStore(t *testing.T, dir string, changed <-chan struct{}, poll time.Duration) *Store {
	t.Helper()
	s, err := NewStore(StoreConfig{Storage: fileStorage(dir), PollInterval: poll, Changed: changed})
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	t.Cleanup(s.Stop)
	s.Start()
	return s
}

// A signal on Changed makes the poller read storage at once, though its timer is an hour away: every kind of
// change made by another instance is picked up.
func TestStoreChangedSignalPollsAtOnce(t *testing.T) {
	dir := t.TempDir()
	a, _ := newTestStore(t, fileStorage(dir))
	changed := make(chan struct{}, 1)
	b := newSignalledStore(t, dir, changed, time.Hour)
	ctx := context.Background()
	const deadline = time.Second

	added, err := a.Add(ctx, Subscription{ServiceCall: "a.b", WebhookURL: "https://example.com/a", ClientID: "42", KlantGlobal: true})
	if err != nil {
		t.Fatal(err)
	}
	changed <- struct{}{}
	waitFor(t, deadline, func() bool { _, ok := b.Index().Get(added.UID); return ok })

	if err := a.Update(ctx, "42", added.UID, "c.d", "https://example.com/c", true); err != nil {
		t.Fatal(err)
	}
	changed <- struct{}{}
	waitFor(t, deadline, func() bool { return b.Index().Any("c.d") })

	if err := a.Delete(ctx, "42", added.UID); err != nil {
		t.Fatal(err)
	}
	changed <- struct{}{}
	waitFor(t, deadline, func() bool { _, ok := b.Index().Get(added.UID); return !ok })
}

// A closed Changed channel is dropped, not spun on: the timer keeps the store current, and Stop returns.
func TestStoreChangedClosedFallsBackToTheTimer(t *testing.T) {
	dir := t.TempDir()
	a, _ := newTestStore(t, fileStorage(dir))
	changed := make(chan struct{})
	close(changed)
	b := newSignalledStore(t, dir, changed, 20*time.Millisecond)

	added, err := a.Add(context.Background(), Subscription{ServiceCall: "a.b", ClientID: "42"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { _, ok := b.Index().Get(added.UID); return ok })
	b.Stop()
}
