package natskv

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sidehook/sidehook/internal/natstest"
	"github.com/sidehook/sidehook/matcher"
)

// propagation is the requirement: a change made on one instance is applied on every other within it.
const propagation = time.Second

const staticSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8G"

// instance is one sidehook's subscription store on s, woken by a watch of the version marker and never by
// its timer (an hour away), as cluster mode runs it.
func instance(t *testing.T, s *Storage, static ...*matcher.Subscription) *matcher.Store {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	changed, err := s.Watch(ctx, matcher.VersionKey(matcher.DefaultPrefix))
	if err != nil {
		t.Fatal(err)
	}
	store, err := matcher.NewStore(matcher.StoreConfig{Storage: s, PollInterval: time.Hour, Changed: changed, Static: static,
		Logger: s.logger.Named("matcher")})
	if err != nil {
		t.Fatal(err)
	}
	store.Start()
	t.Cleanup(store.Stop)
	return store
}

// within waits for cond on the other instance with the propagation deadline, and logs how long it took.
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	waitFor(t, propagation, what, cond)
	t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
}

// Two instances on a three-node cluster (an R3 bucket): every kind of change made on one is in the other's
// index within a second, without polling.
func TestClusterChangesReachTheOtherInstanceWithinASecond(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	static := &matcher.Subscription{ServiceCall: "Static.call", WebhookURL: "https://example.com/s", ClientID: "1", Secret: staticSecret}
	sa, _ := openTest(t, c.URLs(), 3, 0)
	sb, _ := openTest(t, c.URLs(), 3, 0)
	a, b := instance(t, sa, static), instance(t, sb, static)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	added, err := a.Add(ctx, matcher.Subscription{ServiceCall: "Candidate.update", WebhookURL: "https://example.com/h", ClientID: "42", KlantGlobal: true})
	if err != nil {
		t.Fatal(err)
	}
	uid := added.UID
	get := func(s *matcher.Store) *matcher.Subscription { sub, _ := s.Index().Get(uid); return sub }
	within(t, "Add", func() bool { return get(b) != nil })

	if err := a.Update(ctx, "42", uid, "Candidate.*", "https://example.com/h2", true); err != nil {
		t.Fatal(err)
	}
	within(t, "Update", func() bool { sub := get(b); return sub != nil && sub.ServiceCall == "Candidate.*" })

	secret, err := a.RotateSecret(ctx, "42", uid, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	within(t, "RotateSecret", func() bool { sub := get(b); return sub != nil && sub.Secret == secret })

	if err := a.Disable(ctx, uid); err != nil {
		t.Fatal(err)
	}
	within(t, "Disable", func() bool { sub := get(b); return sub != nil && sub.Disabled })

	staticUID := b.List("1")[0].UID
	if err := a.Disable(ctx, staticUID); err != nil {
		t.Fatal(err)
	}
	within(t, "Disable (static)", func() bool { sub, _ := b.Index().Get(staticUID); return sub != nil && sub.Disabled })

	if err := a.Delete(ctx, "42", uid); err != nil {
		t.Fatal(err)
	}
	within(t, "Delete", func() bool { return get(b) == nil })

	back, err := b.Add(ctx, matcher.Subscription{ServiceCall: "Other.call", WebhookURL: "https://example.com/o", ClientID: "42"})
	if err != nil {
		t.Fatal(err)
	}
	within(t, "Add, the other way", func() bool { _, ok := a.Index().Get(back.UID); return ok })
}

// An instance cut off from NATS keeps its index (and logs the loss); once its node is back it catches up with
// the changes made meanwhile by another instance, at once rather than at its next poll.
func TestClusterInstanceCatchesUpAfterLosingNATS(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	sa, _ := openTest(t, c.URLs()[:2], 3, 0)
	// b reaches the cluster only through n3, so killing n3 cuts it off while a and the quorum carry on.
	sb, logs := openTest(t, c.URLs()[2:], 3, 0, nats.IgnoreDiscoveredServers())
	a, b := instance(t, sa), instance(t, sb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	before, err := a.Add(ctx, matcher.Subscription{ServiceCall: "Before.outage", ClientID: "42"})
	if err != nil {
		t.Fatal(err)
	}
	within(t, "Add before the outage", func() bool { _, ok := b.Index().Get(before.UID); return ok })

	c.Nodes[2].Kill(t)
	waitFor(t, 10*time.Second, "the loss logged", func() bool { return logged(logs, "NATS connection lost") })
	// n3 may have led the bucket's stream: a write fails until n1 and n2 elect another leader, and is
	// retried as an API client would.
	var during *matcher.Subscription
	waitFor(t, 30*time.Second, "a write accepted by the remaining quorum", func() bool {
		var err error
		if during, err = a.Add(ctx, matcher.Subscription{ServiceCall: "During.outage", ClientID: "42"}); err != nil {
			t.Logf("Add while the cluster fails over: %v", err)
		}
		return err == nil
	})
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	if err := b.Poll(short); err == nil {
		t.Error("b polled NATS while cut off from it")
	}
	cancelShort()
	if _, ok := b.Index().Get(before.UID); !ok {
		t.Fatal("b dropped its subscriptions when NATS went away")
	}

	c.Nodes[2].Restart(t)
	start := time.Now()
	waitFor(t, 15*time.Second, "catching up after the outage", func() bool { _, ok := b.Index().Get(during.UID); return ok })
	t.Logf("caught up %v after the node was healthy again", time.Since(start).Round(time.Millisecond))

	after, err := a.Add(ctx, matcher.Subscription{ServiceCall: "After.outage", ClientID: "42"})
	if err != nil {
		t.Fatal(err)
	}
	within(t, "Add after the outage", func() bool { _, ok := b.Index().Get(after.UID); return ok })
}

func logged(logs *observer.ObservedLogs, message string) bool {
	return logs.FilterMessageSnippet(message).Len() > 0
}
