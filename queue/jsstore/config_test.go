package jsstore

import (
	"context"
	"testing"
	"time"

	"github.com/sidehook/sidehook/internal/natsconn"
	"github.com/sidehook/sidehook/internal/natstest"
	"github.com/sidehook/sidehook/queue/store"
)

// A configuration that cannot work is refused at Open, before any connection; zero values get defaults.
func TestConfigDefaultsAndRefusals(t *testing.T) {
	urls := []string{"nats://127.0.0.1:4222"}
	cfg, err := Config{Config: natsconn.Config{URLs: urls}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Prefix != defaultPrefix || cfg.Replicas != 1 || cfg.ClaimLease != defaultClaimLease ||
		cfg.RequestTimeout != defaultRequestTimeout || cfg.ConnectTimeout != defaultConnectTimeout ||
		cfg.RetryPoll != defaultRetryPoll {
		t.Errorf("defaults: %+v", cfg)
	}
	if cfg, _ := (Config{Config: natsconn.Config{URLs: urls}, ClaimLease: time.Minute}).withDefaults(); cfg.ClaimLease != time.Minute {
		t.Errorf("ClaimLease set: %v", cfg.ClaimLease)
	}
	for name, bad := range map[string]Config{
		"no URLs":                   {},
		"prefix with a dot":         {Config: natsconn.Config{URLs: urls}, Prefix: "a.b"},
		"six replicas":              {Config: natsconn.Config{URLs: urls}, Replicas: 6},
		"negative replicas":         {Config: natsconn.Config{URLs: urls}, Replicas: -1},
		"token and user":            {Config: natsconn.Config{URLs: urls, Token: "t", User: "u"}},
		"user and creds":            {Config: natsconn.Config{URLs: urls, User: "u", CredsFile: "x.creds"}},
		"client cert without a key": {Config: natsconn.Config{URLs: urls, CertFile: "c.pem"}},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := Open(bad); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

// A server that wants a token refuses a store without it and takes one with it.
func TestTokenAuthentication(t *testing.T) {
	srv := natstest.StartNodeWithConfig(t, "authorization {\n  token: \"s3cret\"\n}\n")
	cfg := testConfig([]string{srv.URL()}, 1)
	cfg.ConnectTimeout = 2 * time.Second
	if s, err := Open(cfg); err == nil {
		_ = s.Close()
		t.Fatal("Open without the token succeeded")
	}
	cfg.Token = "s3cret"
	s := openStore(t, cfg)
	if _, err := s.Enqueue(context.Background(), []store.Event{event(1, hookURL)}, time.Now(), policy); err != nil {
		t.Fatalf("Enqueue with the token: %v", err)
	}
}
