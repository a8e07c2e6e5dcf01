package caddymodule

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// validateTwoSites adapts and validates (provisions, starts nothing) a config of two sites, each with a
// sidehook handler using queueDir, with the given lines in their delivery blocks.
func validateTwoSites(t *testing.T, queueDir, firstDelivery, secondDelivery string) error {
	t.Helper()
	storage := filepath.Join(t.TempDir(), "storage")
	src := fmt.Sprintf(`{
	storage file_system %s
}
http://127.0.0.1:9 {
	sidehook {
		queue_dir %s
		delivery {
			%s
		}
	}
	reverse_proxy 127.0.0.1:8
}
http://127.0.0.1:10 {
	sidehook {
		queue_dir %s
		delivery {
			%s
		}
	}
	reverse_proxy 127.0.0.1:8
}
`, storage, queueDir, firstDelivery, queueDir, secondDelivery)
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapt: %v\n%s", err, src)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	return caddy.Validate(&cfg)
}

// Two handlers sharing a queue_dir share its one delivery engine, so a difference in their delivery blocks is a
// config error naming the directory, the setting and both values, instead of the first handler's settings
// silently winning. Caddy provisions servers in map order, so either handler may be the one reported "here".
func TestSharedQueueDirWithDifferentDeliveryIsAConfigError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "queue")
	cases := []struct{ first, second, setting, firstValue, secondValue string }{
		{"workers 4", "workers 8", "workers", "4", "8"},
		{"retry 1s 2s", "retry 1s 3s", "retry", "[1s 2s]", "[1s 3s]"},
		{"daily_limit 5", "daily_limit 0", "daily_limit", "5", "0"},
		{"allow_destination 127.0.0.1", "", "allow_destination", "[127.0.0.1/32]", "[]"},
		{"paused", "", "paused", "true", "false"},
		{"gc_interval 1s", "", "gc_interval", "1s", "5m0s"},
	}
	for _, c := range cases {
		err := validateTwoSites(t, dir, c.first, c.second)
		if err == nil {
			t.Errorf("%q vs %q: the config validated; want an error", c.first, c.second)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "queue_dir "+dir+" ") {
			t.Errorf("%q vs %q: error %q does not name the directory %s", c.first, c.second, msg, dir)
		}
		oneWay := fmt.Sprintf("%s %s here, %s in another handler", c.setting, c.secondValue, c.firstValue)
		otherWay := fmt.Sprintf("%s %s here, %s in another handler", c.setting, c.firstValue, c.secondValue)
		if !strings.Contains(msg, oneWay) && !strings.Contains(msg, otherWay) {
			t.Errorf("%q vs %q: error %q does not say %q (or the other way round)", c.first, c.second, msg, oneWay)
		}
	}
}

// Handlers that agree on what the engine does validate, even when they spell it differently: a default written
// out, or the same destinations in another order.
func TestSharedQueueDirWithEquivalentDeliveryValidates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "queue")
	cases := []struct{ first, second string }{
		{"workers 16", ""},
		{"allow_destination 127.0.0.1 10.0.0.0/8", "allow_destination 10.0.0.0/8 127.0.0.1/32"},
		{"timeout 3s\n\t\t\tkeep_logs 1h", "keep_logs 1h\n\t\t\ttimeout 3s"},
	}
	for _, c := range cases {
		if err := validateTwoSites(t, dir, c.first, c.second); err != nil {
			t.Errorf("%q vs %q: %v", c.first, c.second, err)
		}
	}
}
