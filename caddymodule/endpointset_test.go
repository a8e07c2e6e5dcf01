package caddymodule

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/sidehook/sidehook/matcher"
)

// endpointSetTestStore is a store in its own storage holding one static subscription per pattern.
func endpointSetTestStore(t *testing.T, patterns ...string) *matcher.Store {
	t.Helper()
	var static []*matcher.Subscription
	for _, p := range patterns {
		static = append(static, &matcher.Subscription{ServiceCall: p, WebhookURL: "https://hooks.example.org/" + p,
			Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	}
	st, err := matcher.NewStore(matcher.StoreConfig{Storage: &certmagic.FileStorage{Path: filepath.Join(t.TempDir(), "storage")}, Static: static})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func subscriptionPatterns(subs []*matcher.Subscription) []string {
	var out []string
	for _, s := range subs {
		out = append(out, s.ServiceCall)
	}
	slices.Sort(out)
	return out
}

// The admin API lists subscriptions through endpointSet.subscriptions rather than by locking the set's mutex
// itself: the list holds what every store in the set knows, and follows stores being removed.
func TestEndpointSetListsTheSubscriptionsOfEveryStore(t *testing.T) {
	oldCfg := endpointSetTestStore(t, "A.one", "B.two")
	newCfg := endpointSetTestStore(t, "C.three")
	set := &endpointSet{}
	set.add(oldCfg)
	set.add(newCfg)
	set.add(newCfg) // added twice, listed once
	if got, want := subscriptionPatterns(set.subscriptions()), []string{"A.one", "B.two", "C.three"}; !slices.Equal(got, want) {
		t.Errorf("with both stores: %v, want %v", got, want)
	}
	set.remove(oldCfg)
	if got, want := subscriptionPatterns(set.subscriptions()), []string{"C.three"}; !slices.Equal(got, want) {
		t.Errorf("after removing a store: %v, want %v", got, want)
	}
	if got := (&endpointSet{}).subscriptions(); len(got) != 0 {
		t.Errorf("an empty set lists %d subscriptions", len(got))
	}
}
