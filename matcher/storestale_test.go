package matcher

import (
	"context"
	"errors"
	"testing"
	"time"
)

// An instance that has not polled yet changes what storage holds, not its stale copy: a change made from the
// copy would silently undo another instance's change (a lost update), and a subscription added elsewhere would
// be "not found" until the next poll.
func TestStoreChangesApplyToWhatStorageHolds(t *testing.T) {
	dir := t.TempDir()
	a, _ := newTestStore(t, fileStorage(dir))
	b, _ := newTestStore(t, fileStorage(dir)) // never polls in this test: always behind a
	ctx := context.Background()

	x, err := a.Add(ctx, Subscription{ServiceCall: "a.b", WebhookURL: "https://example.com/1", ClientID: "42", KlantGlobal: true})
	if err != nil {
		t.Fatal(err)
	}
	// b has never seen x: it still finds it, and still refuses another client.
	if err := b.Update(ctx, "43", x.UID, "a.b", "https://example.com/stolen", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another client's update through b: %v, want ErrNotFound", err)
	}
	if err := b.Update(ctx, "42", x.UID, "a.b", "https://example.com/2", false); err != nil {
		t.Fatalf("update through b of a subscription added through a: %v", err)
	}
	// a's copy is now stale; rotating through a must keep b's URL and klantGlobal.
	secret, err := a.RotateSecret(ctx, "42", x.UID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	got, ok := b.Index().Get(x.UID)
	if !ok || got.WebhookURL != "https://example.com/2" || got.KlantGlobal || got.Secret != secret || got.PreviousSecret != x.Secret {
		t.Fatalf("after update on b and rotate on a, storage holds %+v", got)
	}
	if got, _ := a.Index().Get(x.UID); got.WebhookURL != "https://example.com/2" {
		t.Fatalf("a publishes %q after its own change, want what it wrote", got.WebhookURL)
	}

	// An update naming one field keeps the others as storage holds them, not as a's copy has them.
	if err := b.Update(ctx, "42", x.UID, "e.f", "https://example.com/2", true); err != nil {
		t.Fatal(err)
	}
	url := "https://example.com/partial"
	if err := a.Change(ctx, "42", x.UID, Changes{WebhookURL: &url}); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Index().Get(x.UID); got.WebhookURL != url || got.ServiceCall != "e.f" || !got.KlantGlobal || got.Secret != secret {
		t.Fatalf("after a partial change on a: %+v", got)
	}
	bad := "a..b"
	if err := a.Change(ctx, "42", x.UID, Changes{ServiceCall: &bad}); !errors.Is(err, ErrInvalidPattern) {
		t.Fatalf("a bad pattern: %v", err)
	}

	// A 410 seen by a stale instance disables what storage holds, not an old copy.
	if err := b.Update(ctx, "42", x.UID, "a.b", "https://example.com/3", true); err != nil {
		t.Fatal(err)
	}
	if err := a.Disable(ctx, x.UID); err != nil {
		t.Fatal(err)
	}
	if err := b.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Index().Get(x.UID); !got.Disabled || got.WebhookURL != "https://example.com/3" {
		t.Fatalf("after disable on a: %+v", got)
	}

	// Delete through the instance that has not seen the add; then a change through the other is not found.
	y, err := a.Add(ctx, Subscription{ServiceCall: "c.d", ClientID: "42"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "43", y.UID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another client's delete: %v", err)
	}
	if err := b.Delete(ctx, "42", y.UID); err != nil {
		t.Fatalf("delete through b of a subscription added through a: %v", err)
	}
	if _, err := a.RotateSecret(ctx, "42", y.UID, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rotate through a after the delete through b: %v, want ErrNotFound", err)
	}
	if err := a.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Index().Get(y.UID); ok {
		t.Fatal("a still has the subscription deleted through b")
	}
}
