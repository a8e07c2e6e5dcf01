package caddymodule

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/tidwall/gjson"

	"github.com/sidehook/sidehook/matcher"
)

// idResolver compiles `session_param 0; identity { resolve check { client clientId; user id; ttl <ttl> } }`.
func idResolver(t *testing.T, ttl time.Duration) *identifier {
	t.Helper()
	zero := 0
	h := &Handler{SessionParam: &zero, Identity: &IdentityConfig{Resolve: &ResolveConfig{
		Method: "check", Client: "clientId", User: "id", TTL: caddy.Duration(ttl),
	}}}
	idf, err := h.compileIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return idf
}

// idUpstream is the rest of the route as the resolver sees it: it counts the calls, records their bodies, and
// answers with answer(session) (status, body).
type idUpstream struct {
	calls  atomic.Int32
	mu     sync.Mutex
	bodies []string
	answer func(session string) (int, string)
}

func (u *idUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	u.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.bodies = append(u.bodies, string(body))
	u.mu.Unlock()
	status, out := u.answer(gjson.GetBytes(body, "params.0").String())
	w.WriteHeader(status)
	_, _ = io.WriteString(w, out)
	return nil
}

func idRequest() *http.Request {
	return httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", strings.NewReader("{}"))
}

// The session is params[session_param], raw; null, "" and a missing param are no session.
func TestIdentitySession(t *testing.T) {
	idf := idResolver(t, 0)
	for params, want := range map[string]string{
		`["s1",2]`: `"s1"`, `[42]`: `42`, `[null,"s1"]`: "", `[""]`: "", `[]`: "", ``: "", `{"a":1}`: "",
	} {
		got, ok := idf.session([]byte(params))
		if got != want || ok != (want != "") {
			t.Errorf("session(%s) = %q, %v; want %q", params, got, ok, want)
		}
	}
}

// What the resolve method answers decides the identity: a result with a client is an identity; a JSON-RPC
// error, a non-2xx status, a result without a client or a body that is not JSON-RPC is "not authenticated".
// The upstream gets exactly `{"method":"check","params":[<session>]}`.
func TestIdentityResolveAnswers(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   matcher.Identity
		ok     bool
	}{
		{"result", 200, `{"jsonrpc":"2.0","result":{"clientId":42,"id":"7"},"id":"x"}`, matcher.Identity{Client: "42", User: "7"}, true},
		{"no user", 200, `{"jsonrpc":"2.0","result":{"clientId":"42"},"id":"x"}`, matcher.Identity{Client: "42"}, true},
		{"JSON-RPC error", 200, `{"jsonrpc":"2.0","error":{"code":-32001,"message":"Access denied"},"id":"x"}`, matcher.Identity{}, false},
		{"result and error", 200, `{"jsonrpc":"2.0","result":{"clientId":"42"},"error":{"code":1},"id":"x"}`, matcher.Identity{}, false},
		{"HTTP error", 502, `{"jsonrpc":"2.0","result":{"clientId":"42"},"id":"x"}`, matcher.Identity{}, false},
		{"no client", 200, `{"jsonrpc":"2.0","result":{"id":"7"},"id":"x"}`, matcher.Identity{}, false},
		{"not JSON", 200, `<html>`, matcher.Identity{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idf := idResolver(t, 0)
			up := &idUpstream{answer: func(string) (int, string) { return c.status, c.body }}
			id, ok := idf.identify(idRequest(), []byte(`["sess-1","x"]`), up)
			if id != c.want || ok != c.ok {
				t.Fatalf("identify = %+v, %v; want %+v, %v", id, ok, c.want, c.ok)
			}
			if want := `{"jsonrpc":"2.0","method":"check","params":["sess-1"],"id":"sidehook-identity"}`; up.bodies[0] != want {
				t.Fatalf("the upstream got %s, want %s", up.bodies[0], want)
			}
			// The answer, good or bad, is cached: the next call asks nobody.
			if id2, ok2 := idf.identify(idRequest(), []byte(`["sess-1"]`), up); id2 != id || ok2 != ok || up.calls.Load() != 1 {
				t.Fatalf("second identify = %+v, %v after %d upstream calls; want the cached answer", id2, ok2, up.calls.Load())
			}
		})
	}
}

// Many first calls for one session at once make one upstream call; another session gets its own.
func TestIdentityConcurrentFirstCallsAskOnce(t *testing.T) {
	idf := idResolver(t, 0)
	release := make(chan struct{})
	up := &idUpstream{answer: func(sess string) (int, string) {
		if sess == "slow" {
			<-release
		}
		return 200, `{"result":{"clientId":"42","id":"` + sess + `"}}`
	}}
	const callers = 16
	var started sync.WaitGroup
	var wg sync.WaitGroup
	ids := make([]matcher.Identity, callers)
	for i := range callers {
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			ids[i], _ = idf.identify(idRequest(), []byte(`["slow"]`), up)
		}()
	}
	started.Wait()
	// Callers arriving before the release wait for the one upstream call; later ones find the cached answer.
	waitUntil(t, func() bool { return up.calls.Load() == 1 }, "the first upstream call")
	if id, ok := idf.identify(idRequest(), []byte(`["other"]`), up); !ok || id.User != "other" {
		t.Fatalf("another session waited for the slow one or got %+v", id)
	}
	close(release)
	wg.Wait()
	for i, id := range ids {
		if id != (matcher.Identity{Client: "42", User: "slow"}) {
			t.Errorf("caller %d got %+v", i, id)
		}
	}
	if n := up.calls.Load(); n != 2 {
		t.Fatalf("%d upstream calls for %d callers of one session and 1 of another, want 2", n, callers)
	}
}

// An answer is kept for ttl; after that the session is asked again (a logged-out session stops working).
func TestIdentityCacheExpires(t *testing.T) {
	idf := idResolver(t, time.Nanosecond)
	up := &idUpstream{answer: func(string) (int, string) { return 200, `{"result":{"clientId":"42"}}` }}
	for i := 0; i < 100 && up.calls.Load() < 2; i++ {
		if _, ok := idf.identify(idRequest(), []byte(`["s"]`), up); !ok {
			t.Fatal("not authenticated")
		}
	}
	if n := up.calls.Load(); n < 2 {
		t.Fatalf("an expired answer was reused: %d upstream calls", n)
	}
	if idf.ttl != time.Nanosecond || idResolver(t, 0).ttl != defaultResolveTTL {
		t.Fatalf("ttl %s; default %s", idf.ttl, idResolver(t, 0).ttl)
	}
}

// A caller waiting for someone else's upstream call gives up with its own request; a panic down the route
// does not leave later callers of that session waiting forever.
func TestIdentityWaitersNeverHang(t *testing.T) {
	idf := idResolver(t, 0)
	release := make(chan struct{})
	up := &idUpstream{answer: func(sess string) (int, string) {
		switch sess {
		case "slow":
			<-release
		case "boom":
			panic("down the route")
		}
		return 200, `{"result":{"clientId":"42"}}`
	}}
	first := make(chan struct{})
	go func() { defer close(first); idf.identify(idRequest(), []byte(`["slow"]`), up) }()
	waitUntil(t, func() bool { return up.calls.Load() == 1 }, "the first upstream call")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := idf.identify(idRequest().WithContext(ctx), []byte(`["slow"]`), up); ok {
		t.Fatal("a waiter whose request is gone got an identity")
	}
	close(release)
	<-first

	func() {
		defer func() { _ = recover() }()
		idf.identify(idRequest(), []byte(`["boom"]`), up)
		t.Fatal("no panic")
	}()
	done := make(chan bool)
	go func() { _, ok := idf.identify(idRequest(), []byte(`["boom"]`), up); done <- ok }()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("a session whose resolution panicked is authenticated")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a caller hangs on a session whose resolution panicked")
	}
}

// Placeholder identities read the request (headers here, or what an authentication handler set) and are
// authenticated only when the client is not empty; without any identity config nobody is.
func TestIdentityPlaceholders(t *testing.T) {
	h := &Handler{Identity: &IdentityConfig{Client: "{http.request.header.X-Client-Id}", User: "{http.auth.user.id}"}}
	idf, err := h.compileIdentity()
	if err != nil {
		t.Fatal(err)
	}
	r := idRequest()
	r.Header.Set("X-Client-Id", "42")
	repl := caddyhttp.NewTestReplacer(r)
	repl.Set("http.auth.user.id", "7")
	if id, ok := idf.identify(r, nil, nil); !ok || id != (matcher.Identity{Client: "42", User: "7"}) {
		t.Fatalf("identify = %+v, %v", id, ok)
	}
	anon := idRequest()
	caddyhttp.NewTestReplacer(anon)
	if id, ok := idf.identify(anon, nil, nil); ok || id.Client != "" {
		t.Fatalf("without the header: %+v, %v", id, ok)
	}
	none, _ := (&Handler{}).compileIdentity()
	if _, ok := none.identify(r, []byte(`["s"]`), nil); ok {
		t.Fatal("no identity config, yet authenticated")
	}
}

// A resolve identity needs a method, a client path and session_param.
func TestIdentityConfigErrors(t *testing.T) {
	zero := 0
	for name, h := range map[string]*Handler{
		"no method":        {SessionParam: &zero, Identity: &IdentityConfig{Resolve: &ResolveConfig{Client: "c"}}},
		"no client":        {SessionParam: &zero, Identity: &IdentityConfig{Resolve: &ResolveConfig{Method: "check"}}},
		"no session_param": {Identity: &IdentityConfig{Resolve: &ResolveConfig{Method: "check", Client: "c"}}},
	} {
		if _, err := h.compileIdentity(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
