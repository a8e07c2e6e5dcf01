package matcher

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

const staticSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8G"

// newTestStore opens a Store on dir with a settable clock; it is stopped when the test ends.
func newTestStore(t *testing.T, storage certmagic.Storage, static ...*Subscription) (*Store, *clock) {
	t.Helper()
	clk := &clock{now: epoch}
	s, err := NewStore(StoreConfig{Storage: storage, Static: static, PollInterval: 50 * time.Millisecond, Now: clk.Now})
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	t.Cleanup(s.Stop)
	return s, clk
}

func fileStorage(dir string) *certmagic.FileStorage { return &certmagic.FileStorage{Path: dir} }

func TestStoreAddIsVisibleAtOnceAndPersists(t *testing.T) {
	dir := t.TempDir()
	s, _ := newTestStore(t, fileStorage(dir))
	ctx := context.Background()

	added, err := s.Add(ctx, Subscription{ServiceCall: "CandidateService.update", WebhookURL: "https://example.com/h", ClientID: "42", UserID: "7", KlantGlobal: true})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if !validUID(added.UID) || len(added.UID) != 32 {
		t.Errorf("UID = %q, want 32 hex characters", added.UID)
	}
	if err := ValidateSecret(added.Secret); err != nil {
		t.Errorf("generated secret: %v", err)
	}
	if !added.Created.Equal(epoch) {
		t.Errorf("Created = %v, want the store's now %v", added.Created, epoch)
	}
	if !s.Index().Any(update) {
		t.Fatal("the new subscription is not in the index when Add returns")
	}
	if got := uids(s.Index().Match(update, Identity{"42", "8"}, FanoutOne, nil)); !slices.Equal(got, []string{added.UID}) {
		t.Errorf("Match = %v, want [%s]", got, added.UID)
	}
	if got := uids(s.List("42")); !slices.Equal(got, []string{added.UID}) {
		t.Errorf("List(42) = %v", got)
	}
	if got := s.List("43"); len(got) != 0 {
		t.Errorf("List(43) = %v, want none", uids(got))
	}
	if secrets, ok := s.SigningSecrets(added.UID); !ok || !slices.Equal(secrets, []string{added.Secret}) {
		t.Errorf("SigningSecrets = %v, %v", secrets, ok)
	}

	reopened, _ := newTestStore(t, fileStorage(dir))
	got, ok := reopened.Index().Get(added.UID)
	if !ok {
		t.Fatal("a new Store on the same storage does not see the subscription")
	}
	if !reflect.DeepEqual(got, added) {
		t.Errorf("reloaded %+v\nwant     %+v", got, added)
	}
}

func TestStoreAddRejects(t *testing.T) {
	s, _ := newTestStore(t, fileStorage(t.TempDir()))
	ctx := context.Background()
	first, err := s.Add(ctx, Subscription{ServiceCall: "a.b", ClientID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sub  Subscription
		want error
	}{
		{"invalid pattern", Subscription{ServiceCall: "Cand*"}, ErrInvalidPattern},
		{"invalid secret", Subscription{ServiceCall: "a.b", Secret: "whsec_short"}, ErrInvalidSecret},
		{"taken uid", Subscription{ServiceCall: "a.b", UID: first.UID}, ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Add(ctx, tt.sub); !errors.Is(err, tt.want) {
				t.Errorf("Add = %v, want %v", err, tt.want)
			}
			if n := s.Index().Len(); n != 1 {
				t.Errorf("index holds %d subscriptions after a rejected Add, want 1", n)
			}
		})
	}
}

func TestStoreChangesByOwner(t *testing.T) {
	s, clk := newTestStore(t, fileStorage(t.TempDir()))
	ctx := context.Background()
	added, err := s.Add(ctx, Subscription{ServiceCall: "CandidateService.update", WebhookURL: "https://example.com/a", ClientID: "42", UserID: "7"})
	if err != nil {
		t.Fatal(err)
	}

	if err := s.Update(ctx, "42", added.UID, "VacancyService.*", "https://example.com/b", true); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if s.Index().Any(update) || !s.Index().Any("Otys.Services.VacancyService.add") {
		t.Error("Update did not move the subscription to its new pattern")
	}
	got, _ := s.Index().Get(added.UID)
	if got.WebhookURL != "https://example.com/b" || !got.KlantGlobal {
		t.Errorf("after Update: %+v", got)
	}
	if err := s.Update(ctx, "42", added.UID, "bad pattern", "https://example.com/b", true); !errors.Is(err, ErrInvalidPattern) {
		t.Errorf("Update with a bad pattern = %v, want ErrInvalidPattern", err)
	}

	newSecret, err := s.RotateSecret(ctx, "42", added.UID, 24*time.Hour)
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	if secrets, _ := s.SigningSecrets(added.UID); !slices.Equal(secrets, []string{newSecret, added.Secret}) {
		t.Errorf("SigningSecrets during grace = %v, want new then old", secrets)
	}
	clk.Advance(24 * time.Hour)
	if secrets, _ := s.SigningSecrets(added.UID); !slices.Equal(secrets, []string{newSecret}) {
		t.Errorf("SigningSecrets after grace = %v, want only the new one", secrets)
	}

	if err := s.Delete(ctx, "42", added.UID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, ok := s.Index().Get(added.UID); ok || s.Index().Any("Otys.Services.VacancyService.add") {
		t.Error("deleted subscription still indexed")
	}
	if _, ok := s.SigningSecrets(added.UID); ok {
		t.Error("deleted subscription still has signing secrets")
	}
	if err := s.Delete(ctx, "42", added.UID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
}

func TestStoreAnotherClientsUIDIsNotFound(t *testing.T) {
	dir := t.TempDir()
	s, _ := newTestStore(t, fileStorage(dir))
	ctx := context.Background()
	added, err := s.Add(ctx, Subscription{ServiceCall: "CandidateService.update", WebhookURL: "https://example.com/a", ClientID: "42"})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func() error{
		"update": func() error { return s.Update(ctx, "43", added.UID, "*", "https://evil.example/", true) },
		"delete": func() error { return s.Delete(ctx, "43", added.UID) },
		"rotate": func() error { _, err := s.RotateSecret(ctx, "43", added.UID, time.Hour); return err },
		"unknown uid": func() error {
			return s.Update(ctx, "42", "0123456789abcdef0123456789abcdef", "*", "https://example.com/", true)
		},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			if err := op(); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
			got, ok := s.Index().Get(added.UID)
			if !ok || !reflect.DeepEqual(got, added) {
				t.Errorf("subscription changed in memory: %+v", got)
			}
			reopened, _ := newTestStore(t, fileStorage(dir))
			if got, ok := reopened.Index().Get(added.UID); !ok || !reflect.DeepEqual(got, added) {
				t.Errorf("subscription changed in storage: %+v", got)
			}
		})
	}
}

func TestStoreTwoInstancesShareChanges(t *testing.T) {
	dir := t.TempDir()
	a, _ := newTestStore(t, fileStorage(dir))
	b, _ := newTestStore(t, fileStorage(dir))
	b.Start()
	ctx := context.Background()
	const deadline = 5 * time.Second
	id := Identity{"42", "7"}

	added, err := a.Add(ctx, Subscription{ServiceCall: "CandidateService.*", WebhookURL: "https://example.com/a", ClientID: "42", KlantGlobal: true})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, deadline, func() bool { return len(b.Index().Match(update, id, FanoutAll, nil)) == 1 })

	if err := a.Disable(ctx, added.UID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, deadline, func() bool { return !b.Index().Any(update) })

	// A change made on b while a has not polled: a must still catch up with it.
	second, err := b.Add(ctx, Subscription{ServiceCall: "x.y", WebhookURL: "https://example.com/b", ClientID: "42", KlantGlobal: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "42", added.UID); err != nil {
		t.Fatal(err)
	}
	a.Start()
	waitFor(t, deadline, func() bool {
		_, gone := a.Index().Get(added.UID)
		return a.Index().Any("x.y") && !gone
	})
	if got, _ := a.Index().Get(second.UID); got == nil || got.WebhookURL != "https://example.com/b" {
		t.Errorf("a sees %+v", got)
	}
}

func TestStorePollReadsOnlyTheMarkerWhenNothingChanged(t *testing.T) {
	dir := t.TempDir()
	counting := &countingStorage{Storage: fileStorage(dir)}
	s, _ := newTestStore(t, counting)
	ctx := context.Background()
	if _, err := s.Add(ctx, Subscription{ServiceCall: "a.b", ClientID: "1"}); err != nil {
		t.Fatal(err)
	}

	lists, loads := counting.lists.Load(), counting.loads.Load()
	s.Start()
	waitFor(t, 5*time.Second, func() bool { return counting.loads.Load() >= loads+3 })
	if got := counting.lists.Load(); got != lists {
		t.Fatalf("unchanged marker: %d List calls during polling, want 0", got-lists)
	}

	other, _ := newTestStore(t, fileStorage(dir))
	if _, err := other.Add(ctx, Subscription{ServiceCall: "c.d", ClientID: "1"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return s.Index().Any("c.d") })
	if counting.lists.Load() == lists {
		t.Error("a changed marker was picked up without listing")
	}
}

func TestStoreStaticSubscriptionsAreReadOnly(t *testing.T) {
	static := []*Subscription{
		{ServiceCall: "*.update", WebhookURL: "https://example.com/all", Secret: staticSecret},
		{ServiceCall: "CandidateService.*", WebhookURL: "https://example.com/42", Secret: staticSecret, ClientID: "42"},
	}
	s, _ := newTestStore(t, fileStorage(t.TempDir()), static...)
	ctx := context.Background()

	mine := s.List("42")
	if len(mine) != 1 || !mine[0].Static || mine[0].WebhookURL != "https://example.com/42" {
		t.Fatalf("List(42) = %+v, want the static subscription of client 42", mine)
	}
	uid := mine[0].UID
	if got := len(s.Index().Match(update, Identity{"42", "1"}, FanoutAll, nil)); got != 2 {
		t.Errorf("Match for client 42 = %d subscriptions, want 2", got)
	}
	tests := []struct {
		name   string
		client string
		want   error
	}{
		{"own client", "42", ErrReadOnly},
		{"other client", "43", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Update(ctx, tt.client, uid, "*", "https://example.com/x", true); !errors.Is(err, tt.want) {
				t.Errorf("Update = %v, want %v", err, tt.want)
			}
			if err := s.Delete(ctx, tt.client, uid); !errors.Is(err, tt.want) {
				t.Errorf("Delete = %v, want %v", err, tt.want)
			}
			if _, err := s.RotateSecret(ctx, tt.client, uid, time.Hour); !errors.Is(err, tt.want) {
				t.Errorf("RotateSecret = %v, want %v", err, tt.want)
			}
		})
	}
	if got, _ := s.Index().Get(uid); !reflect.DeepEqual(got, mine[0]) {
		t.Errorf("static subscription changed: %+v", got)
	}
}

func TestStoreDisablePersists(t *testing.T) {
	dir := t.TempDir()
	static := &Subscription{ServiceCall: "*.update", WebhookURL: "https://example.com/all", Secret: staticSecret}
	s, _ := newTestStore(t, fileStorage(dir), static)
	ctx := context.Background()
	dynamic, err := s.Add(ctx, Subscription{ServiceCall: "CandidateService.update", ClientID: "42", KlantGlobal: true})
	if err != nil {
		t.Fatal(err)
	}
	staticUID := s.List("")[0].UID

	for _, uid := range []string{staticUID, dynamic.UID} {
		if err := s.Disable(ctx, uid); err != nil {
			t.Fatalf("Disable(%s): %v", uid, err)
		}
	}
	if err := s.Disable(ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Disable of an unknown uid = %v, want ErrNotFound", err)
	}
	check := func(name string, st *Store) {
		t.Helper()
		if st.Index().Any(update) {
			t.Errorf("%s: a disabled subscription still matches", name)
		}
		for _, uid := range []string{staticUID, dynamic.UID} {
			got, ok := st.Index().Get(uid)
			if !ok || !got.Disabled {
				t.Errorf("%s: %s disabled = %v, present = %v; want disabled", name, uid, got != nil && got.Disabled, ok)
			}
			if _, ok := st.SigningSecrets(uid); ok {
				t.Errorf("%s: a disabled subscription still has signing secrets", name)
			}
		}
	}
	check("same store", s)
	reopened, _ := newTestStore(t, fileStorage(dir), static)
	check("new store", reopened)
}

func TestNewStoreErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  StoreConfig
	}{
		{"no storage", StoreConfig{}},
		{"storage down", StoreConfig{Storage: failingStorage{fileStorage(t.TempDir())}}},
		{"static with a bad pattern", StoreConfig{Storage: fileStorage(t.TempDir()), Static: []*Subscription{{ServiceCall: "a b", Secret: staticSecret}}}},
		{"static without a secret", StoreConfig{Storage: fileStorage(t.TempDir()), Static: []*Subscription{{ServiceCall: "a.b"}}}},
		{"static twice", StoreConfig{Storage: fileStorage(t.TempDir()), Static: []*Subscription{
			{ServiceCall: "a.b", WebhookURL: "https://x/", Secret: staticSecret},
			{ServiceCall: "a.b", WebhookURL: "https://x/", Secret: staticSecret},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := NewStore(tt.cfg); err == nil {
				s.Stop()
				t.Error("NewStore succeeded, want an error")
			}
		})
	}
}

func TestStoreStopWithoutStartAndTwice(t *testing.T) {
	s, _ := newTestStore(t, fileStorage(t.TempDir()))
	s.Stop()
	s.Start()
	s.Start()
	s.Stop()
	s.Stop()
}

// downUntil fails every read while down is set, as a storage backend that is not reachable yet.
type downUntil struct {
	certmagic.Storage
	down atomic.Bool
}

func (d *downUntil) Load(ctx context.Context, key string) ([]byte, error) {
	if d.down.Load() {
		return nil, errStorageDown
	}
	return d.Storage.Load(ctx, key)
}

// With LoadLater, a storage that is down at start does not fail NewStore: the static subscriptions serve at
// once, and the dynamic ones arrive with the first poll that can read them.
func TestLoadLaterServesStaticUntilTheStorageAnswers(t *testing.T) {
	dir := t.TempDir()
	earlier, _ := newTestStore(t, fileStorage(dir))
	added, err := earlier.Add(context.Background(), Subscription{ServiceCall: "a.b", WebhookURL: "https://x/", ClientID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	storage := &downUntil{Storage: fileStorage(dir)}
	storage.down.Store(true)
	static := &Subscription{ServiceCall: "c.d", WebhookURL: "https://y/", Secret: staticSecret}
	if _, err := NewStore(StoreConfig{Storage: storage, Static: []*Subscription{static}}); err == nil {
		t.Fatal("NewStore without LoadLater succeeded on a storage that is down")
	}
	s, err := NewStore(StoreConfig{Storage: storage, Static: []*Subscription{static}, LoadLater: true})
	if err != nil {
		t.Fatalf("NewStore with LoadLater: %v", err)
	}
	t.Cleanup(s.Stop)
	if n := len(s.Index().All()); n != 1 {
		t.Fatalf("with the storage down the index holds %d subscriptions, want the static one", n)
	}
	if err := s.Poll(context.Background()); err == nil {
		t.Error("Poll succeeded with the storage down")
	}
	storage.down.Store(false)
	if err := s.Poll(context.Background()); err != nil {
		t.Fatalf("Poll once the storage answers: %v", err)
	}
	if _, ok := s.Index().Get(added.UID); !ok || len(s.Index().All()) != 2 {
		t.Errorf("after the storage answered the index holds %d subscriptions (dynamic one found: %v), want 2", len(s.Index().All()), ok)
	}
}
