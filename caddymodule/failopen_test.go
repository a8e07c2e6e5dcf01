package caddymodule_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"
)

// rawUpstream records exactly what reaches it, keyed by the X-Case header, and answers deterministically:
// a JSON-RPC result for a JSON-RPC call, plain text for anything else, and the status X-Status asks for.
type rawUpstream struct {
	mu   sync.Mutex
	seen map[string]string
}

func (u *rawUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.seen[r.Header.Get("X-Case")] = fmt.Sprintf("%s %s %q ct=%q cl=%d", r.Method, r.URL.RequestURI(), body, r.Header.Get("Content-Type"), r.ContentLength)
	u.mu.Unlock()
	status := http.StatusOK
	fmt.Sscan(r.Header.Get("X-Status"), &status)
	if id := gjson.GetBytes(body, "id"); id.Exists() && gjson.GetBytes(body, "method").Exists() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"jsonrpc":"2.0","result":{"echo":%s},"id":%s}`, gjson.GetBytes(body, "params").Raw, id.Raw)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	fmt.Fprintf(w, "upstream got %d bytes", len(body))
}

func (u *rawUpstream) get(key string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen[key]
}

// Whatever sidehook does not observe, and what it observes, reaches the upstream and the client exactly as it
// would without sidehook.
func TestFailOpenRequestsAndResponsesAreUntouched(t *testing.T) {
	up := &rawUpstream{seen: map[string]string{}}
	h := newHarness(t, harnessOptions{upstream: up})
	h.load(`
		max_body 1KiB
		subscribe echo {recv}/echo {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	big := `{"jsonrpc":"2.0","method":"echo","params":["` + strings.Repeat("x", 4096) + `"],"id":1}`
	cases := []struct {
		name, method, contentType, body, status string
		chunked                                 bool
		fires                                   bool
	}{
		{name: "get", method: http.MethodGet},
		{name: "put", method: http.MethodPut, contentType: "application/json", body: `{"jsonrpc":"2.0","method":"echo","params":[1],"id":1}`},
		{name: "text", method: http.MethodPost, contentType: "text/plain", body: "hello, upstream"},
		{name: "invalid-json", method: http.MethodPost, contentType: "application/json", body: `{"jsonrpc":"2.0","method":"echo",`},
		{name: "not-jsonrpc", method: http.MethodPost, contentType: "application/json", body: `{"foo":"bar"}`},
		{name: "array-not-jsonrpc", method: http.MethodPost, contentType: "application/json", body: `[1,2,3]`},
		{name: "over-max-body", method: http.MethodPost, contentType: "application/json", body: big},
		{name: "over-max-body-chunked", method: http.MethodPost, contentType: "application/json", body: big, chunked: true},
		{name: "upstream-500", method: http.MethodPost, contentType: "application/json", body: `{"jsonrpc":"2.0","method":"echo","params":[2],"id":2}`, status: "500"},
		{name: "observed", method: http.MethodPost, contentType: "application/json", body: `{"jsonrpc":"2.0","method":"echo","params":[3],"id":3}`, fires: true},
		{name: "observed-chunked", method: http.MethodPost, contentType: "application/json", body: `{"jsonrpc":"2.0","method":"echo","params":[4],"id":4}`, chunked: true, fires: true},
	}
	send := func(port int, name string, c struct {
		name, method, contentType, body, status string
		chunked                                 bool
		fires                                   bool
	}) string {
		var body io.Reader = strings.NewReader(c.body)
		if c.chunked {
			body = io.MultiReader(strings.NewReader(c.body)) // unknown length: sent chunked
		}
		req, _ := http.NewRequest(c.method, fmt.Sprintf("http://127.0.0.1:%d/rpc?q=1", port), body)
		req.Header.Set("X-Case", name)
		req.Header.Set("X-Status", c.status)
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d ct=%q cl=%q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Length"), out)
	}
	fired := uint64(0)
	for _, c := range cases {
		with := send(h.port, c.name+"/with", c)
		without := send(h.plainPort, c.name+"/without", c)
		if with != without {
			t.Errorf("%s: the client got a different response with sidehook:\n with:    %s\n without: %s", c.name, with, without)
		}
		if a, b := up.get(c.name+"/with"), up.get(c.name+"/without"); a != b || a == "" {
			t.Errorf("%s: the upstream got a different request with sidehook:\n with:    %s\n without: %s", c.name, a, b)
		}
		if c.fires {
			fired++
		}
	}
	h.settled(fired)
	got := h.recv.deliveries()
	if uint64(len(got)) != fired {
		t.Fatalf("want %d deliveries (the observed cases), got %d", fired, len(got))
	}
	for _, d := range got {
		if !bytes.Contains(d.Body, []byte(`"args":[3]`)) && !bytes.Contains(d.Body, []byte(`"args":[4]`)) {
			t.Errorf("unexpected delivery: %s", d.Body)
		}
	}
}

// An upstream that is down or too slow gets the same error answer with and without sidehook, and nothing fires.
func TestFailOpenWhenTheUpstreamFails(t *testing.T) {
	for _, tc := range []struct{ name, proxy string }{
		{"down", "reverse_proxy 127.0.0.1:1"},
		{"timeout", `reverse_proxy %s {
		transport http {
			response_header_timeout 100ms
		}
	}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-t.Context().Done():
				}
			})
			proxy := tc.proxy
			if !strings.Contains(proxy, "%s") {
				proxy += "%.0s"
			}
			h := newHarness(t, harnessOptions{upstream: slow, proxy: proxy})
			h.load(`
		subscribe echo {recv}/echo {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
			call := `{"jsonrpc":"2.0","method":"echo","params":[1],"id":1}`
			ws, wb := h.post(call)
			ps, pb := postTo(t, h.plainPort, call)
			if ws != ps || wb != pb {
				t.Errorf("with sidehook %d %q, without %d %q", ws, wb, ps, pb)
			}
			if ws/100 != 5 {
				t.Errorf("want a 5xx from the proxy, got %d", ws)
			}
			h.settled(0)
			if n := len(h.recv.deliveries()); n != 0 {
				t.Errorf("%d deliveries for a call that never got an answer", n)
			}
		})
	}
}
