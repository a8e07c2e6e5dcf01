package caddymodule

import (
	"strings"
	"testing"
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
