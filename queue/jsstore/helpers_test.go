package jsstore

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sidehook/sidehook/internal/natsconn"
	"github.com/sidehook/sidehook/queue/store"
)

// prefixes makes each test's deployment prefix unique, so tests sharing servers never see each other's jobs.
var prefixes atomic.Uint64

// testConfig is a store configuration for urls with a fresh prefix.
func testConfig(urls []string, replicas int) Config {
	return Config{Config: natsconn.Config{URLs: urls}, Replicas: replicas, Prefix: fmt.Sprintf("t%d", prefixes.Add(1)),
		RequestTimeout: 10 * time.Second}
}

// openStore opens a store for cfg and closes it at the end of the test.
func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// dropStreams deletes the streams of cfg's prefix at the end of the test, so that a cluster shared by many
// tests does not carry every earlier test's raft groups.
func dropStreams(t *testing.T, cfg Config) {
	t.Helper()
	t.Cleanup(func() {
		nc, err := nats.Connect(strings.Join(cfg.URLs, ","))
		if err != nil {
			t.Logf("dropping streams of %s: %v", cfg.Prefix, err)
			return
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, kind := range []string{"events", "logs", "jobs", "limits"} {
			_ = js.DeleteStream(ctx, "KV_"+bucketName(cfg.Prefix, kind))
		}
	})
}

// event is a new event for url with a distinct id and body.
func event(n int, url string) store.Event {
	id := fmt.Sprintf("msg_%s_%04d", time.Now().Format("150405.000000000")[7:], n)
	return store.Event{ID: id, SubscriptionUID: "sub", ClientID: "42", UserID: "7", URL: url,
		Body: []byte(`{"n":` + fmt.Sprint(n) + `}`), Created: time.Now().UnixNano()}
}

// waitFor waits until cond holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		<-time.After(10 * time.Millisecond) // the pace of the condition check
	}
}
