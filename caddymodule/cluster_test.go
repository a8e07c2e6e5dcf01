package caddymodule

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// The cluster's queue key shows in logs, metrics and the admin API: no credential given in a NATS URL may
// reach it, and handlers naming the same servers (in any order, with or without credentials) share it.
func TestClusterQueueKeyHoldsNoCredentials(t *testing.T) {
	a := &ClusterConfig{NATS: []string{"nats://sidehook:s3cr3t-pass@10.0.0.2:4222", "nats://t0ken-value@10.0.0.1:4222"}, Prefix: "orders"}
	b := &ClusterConfig{NATS: []string{"nats://10.0.0.1:4222", "nats://10.0.0.2:4222"}, Prefix: "orders"}
	key := a.queueKey()
	for _, secret := range []string{"s3cr3t-pass", "t0ken-value", "sidehook:"} {
		if strings.Contains(key, secret) {
			t.Errorf("queue key %q holds %q", key, secret)
		}
	}
	if want := "nats:orders@nats://10.0.0.1:4222,nats://10.0.0.2:4222"; key != want || b.queueKey() != want {
		t.Errorf("queue keys %q and %q, want both %q", key, b.queueKey(), want)
	}
	if other := (&ClusterConfig{NATS: b.NATS, Prefix: "billing"}).queueKey(); other == key {
		t.Errorf("another prefix on the same servers has the same queue key %q", other)
	}
}

// What Provision refuses of a cluster block that the Caddyfile parser cannot know: queue_dir beside it, and a
// claim lease that would end before its attempt could (another instance would attempt the job meanwhile).
func TestClusterProvisionChecks(t *testing.T) {
	servers := []string{"nats://127.0.0.1:4222"}
	cases := []struct {
		name string
		h    *Handler
		want string
	}{
		{"queue_dir beside cluster", &Handler{QueueDir: "/srv/q", Cluster: &ClusterConfig{NATS: servers}},
			"queue_dir and cluster exclude each other: in cluster mode the queue lives in NATS JetStream"},
		{"lease shorter than an attempt and the two it may wait for", &Handler{Cluster: &ClusterConfig{NATS: servers, ClaimLease: caddy.Duration(45 * time.Second)}},
			"cluster claim_lease 45s must be at least 50s: three delivery timeouts (15s) and 5s"},
		{"bad replicas in JSON", &Handler{Cluster: &ClusterConfig{NATS: servers, Replicas: 9}},
			"cluster: jsstore: 9 replicas: JetStream allows 1 to 5"},
	}
	for _, c := range cases {
		if _, err := c.h.compileQueue(15 * time.Second); err == nil || err.Error() != c.want {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	ok := &Handler{Cluster: &ClusterConfig{NATS: servers, ClaimLease: caddy.Duration(50 * time.Second)}}
	if _, err := ok.compileQueue(15 * time.Second); err != nil {
		t.Errorf("a 50s lease over a 15s timeout: %v", err)
	}
}
