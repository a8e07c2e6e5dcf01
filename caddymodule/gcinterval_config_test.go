package caddymodule

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// `delivery { gc_interval <d> }` reaches the queue's Config, so an operator (and the binary's soak test) can
// make disk use follow a drained backlog sooner than the five-minute default; a bad duration fails adapt naming
// its line.
func TestGCIntervalDeliverySubdirective(t *testing.T) {
	adapted, _ := presetAdapted(t, "\t\tdelivery {\n\t\t\tgc_interval 1s\n\t\t}")
	cfg, err := adapted.compileDelivery()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GCInterval != time.Second {
		t.Errorf("gc_interval 1s compiled to %v, want 1s", cfg.GCInterval)
	}
	for _, bad := range []string{"gc_interval soon", "gc_interval 0s", "gc_interval", "gc_interval 1s 2s"} {
		src := "http://127.0.0.1:9 {\n\tsidehook {\n\t\tdelivery {\n\t\t\t" + bad + "\n\t\t}\n\t}\n\treverse_proxy 127.0.0.1:8\n}\n"
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), map[string]any{"filename": "Caddyfile"})
		if err == nil || !strings.Contains(err.Error(), "Caddyfile:4") {
			t.Errorf("%q: want an error naming Caddyfile:4, got %v", bad, err)
		}
	}
}
