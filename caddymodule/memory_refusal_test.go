package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A request that both may fire and carries a logout, arriving when the memory budget cannot cover its copies,
// passes through unobserved and is counted as memory_budget: nothing fires, and sidehook does not fail while
// trying (no internal_error). Before, the logout kept the request on the observed path with no budget, and
// firing failed on it.
func TestMemoryBudgetRefusalWithALogoutFiresNothingAndFailsNothing(t *testing.T) {
	// The upstream's answer is small enough to be held within the budget; the request is not.
	small := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"jsonrpc":"2.0","result":true,"id":1},{"jsonrpc":"2.0","result":1,"id":2}]`)
	})
	h := newHarness(t, harnessOptions{upstream: small})
	h.load(`
		preset otys
		memory_budget 4KiB
		subscribe * {recv}/all {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	// Half of the 4 KiB budget is for observed calls; twice this request is well over it.
	padding := strings.Repeat("x", 1500)
	body := fmt.Sprintf(`[{"jsonrpc":"2.0","method":"logout","params":["nobody"],"id":1},`+
		`{"jsonrpc":"2.0","method":"echo","params":["%s"],"id":2}]`, padding)
	status, out := h.post(body)
	if status != http.StatusOK || !strings.Contains(out, `"result":1`) {
		t.Fatalf("the call itself must pass: %d %.200s", status, out)
	}
	if n := passedThrough(t, "memory_budget"); n < 1 {
		t.Errorf(`caddy_sidehook_passed_through_total{reason="memory_budget"} = %v, want at least 1`, n)
	}
	if n := eventsDropped(t, "internal_error"); n != 0 {
		t.Errorf(`caddy_sidehook_events_dropped_total{reason="internal_error"} = %v: sidehook failed on a call it should have let pass`, n)
	}
}

// eventsDropped reads caddy_sidehook_events_dropped_total for reason; 0 when nothing was dropped for it.
func eventsDropped(t *testing.T, reason string) float64 {
	t.Helper()
	v, _ := metricSample(t, "caddy_sidehook_events_dropped_total", reason)
	return v
}
