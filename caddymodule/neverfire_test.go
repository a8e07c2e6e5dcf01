package caddymodule_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// namespacedLoginUpstream answers every call whose method ends in ".login" (the namespaced forms an
// OTYS-style API accepts besides the bare `login`), alone or as the only call of a batch, with a fresh
// session, and hands everything else to next.
func namespacedLoginUpstream(next func() http.Handler, issued *atomic.Int32) http.Handler {
	type call struct {
		Method string          `json:"method"`
		ID     json.RawMessage `json:"id"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var c call
		var batch []call
		batched := json.Unmarshal(body, &batch) == nil && len(batch) == 1
		if batched {
			c = batch[0]
		} else if json.Unmarshal(body, &c) != nil {
			c = call{}
		}
		if !strings.HasSuffix(c.Method, ".login") {
			r.Body = io.NopCloser(bytes.NewReader(body))
			next().ServeHTTP(w, r)
			return
		}
		resp := fmt.Sprintf(`{"jsonrpc":"2.0","result":"sess_namespaced_%d_secret","id":%s}`, issued.Add(1), c.ID)
		if batched {
			resp = "[" + resp + "]"
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, resp)
	})
}

// The preset's never_fire list names `login`; the namespaced forms of it fire nothing either, even under a
// subscription to every call, so the fresh session they return is never stored or sent.
func TestPresetNeverFireCoversNamespacedMethods(t *testing.T) {
	var issued atomic.Int32
	var h *harness
	h = newHarness(t, harnessOptions{upstream: namespacedLoginUpstream(func() http.Handler { return h.api }, &issued)})
	h.load(`
		preset otys
		subscribe * {recv}/all {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)

	methods := []string{"Otys.Services.login", "Otys.Services.LoginService.login", "X.login"}
	for i, m := range methods {
		status, out := h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":[%q],"id":%d}`, m, testUser.APIKey, i+1))
		if status != http.StatusOK || !strings.HasPrefix(gjson.Get(out, "result").String(), "sess_namespaced_") {
			t.Fatalf("%s: %d %s", m, status, out)
		}
	}
	// The same inside a batch.
	if status, out := h.post(`[{"jsonrpc":"2.0","method":"Otys.Services.login","params":["k"],"id":9}]`); status != http.StatusOK || !strings.Contains(out, "sess_namespaced_") {
		t.Fatalf("batch: %d %s", status, out)
	}
	if n := issued.Load(); n != int32(len(methods)+1) {
		t.Fatalf("the upstream issued %d sessions, want %d", n, len(methods)+1)
	}
	// Positive control: a call that is not never_fire fires under the same subscription.
	const marker = "echo-marker-fires"
	h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"echo","params":[null,%q],"id":20}`, marker))

	waitFor(t, 15*time.Second, func() bool {
		s := h.stats()
		return s.Depth == 0 && s.InFlight == 0 && s.Delivered >= 1
	}, "the queue to settle")
	var fired []string
	for _, d := range h.recv.deliveries() {
		fired = append(fired, gjson.GetBytes(d.Body, "request.method").String())
	}
	if len(fired) != 1 || fired[0] != "echo" {
		t.Errorf("fired %v, want only [echo]", fired)
	}
	if len(grepDir(t, h.queueDir(), marker)) == 0 {
		t.Fatalf("the marker %q is not found under queue_dir: the grep would prove nothing", marker)
	}
	if hits := grepDir(t, h.queueDir(), "sess_namespaced_"); len(hits) != 0 {
		t.Errorf("a session from a namespaced login is stored in %v", hits)
	}
}
