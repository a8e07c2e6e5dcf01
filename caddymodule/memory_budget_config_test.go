package caddymodule

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// `memory_budget <size>` reaches the JSON config as bytes; a bad size fails adapt naming the line.
func TestMemoryBudgetSubdirective(t *testing.T) {
	adapted, _ := presetAdapted(t, "\t\tmemory_budget 64MiB")
	if adapted.MemoryBudget != 64<<20 {
		t.Errorf("memory_budget 64MiB adapted to %d bytes, want %d", adapted.MemoryBudget, 64<<20)
	}
	for _, bad := range []string{"memory_budget lots", "memory_budget 0", "memory_budget", "memory_budget 1MiB 2MiB"} {
		cfg := "http://127.0.0.1:9 {\n\tsidehook {\n\t\t" + bad + "\n\t}\n\treverse_proxy 127.0.0.1:8\n}\n"
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), map[string]any{"filename": "Caddyfile"})
		if err == nil || !strings.Contains(err.Error(), "Caddyfile:3") {
			t.Errorf("%q: want an error naming Caddyfile:3, got %v", bad, err)
		}
	}
}
