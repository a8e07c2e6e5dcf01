package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sidehook/sidehook/proxy"
)

// idLogoutResolver compiles `session_param 0; identity { resolve check { client clientId; user id; logout logout
// *.logout } }`, its cache holding the given sessions.
func idLogoutResolver(t *testing.T, sessions ...string) *identifier {
	t.Helper()
	zero := 0
	h := &Handler{SessionParam: &zero, Identity: &IdentityConfig{Resolve: &ResolveConfig{
		Method: "check", Client: "clientId", User: "id", Logout: []string{"logout", "*.logout"},
	}}}
	idf, err := h.compileIdentity()
	if err != nil {
		t.Fatal(err)
	}
	up := &idUpstream{answer: func(string) (int, string) { return 200, `{"result":{"clientId":"42","id":"7"}}` }}
	for _, s := range sessions {
		if _, ok := idf.identify(idRequest(), []byte(`[`+s+`]`), up); !ok {
			t.Fatalf("session %s not resolved", s)
		}
	}
	return idf
}

func cached(idf *identifier, key string) bool {
	idf.mu.Lock()
	defer idf.mu.Unlock()
	_, ok := idf.sessions[key]
	return ok
}

// spyWriter records, at each Write, what it was given and whether the session was still cached then.
type spyWriter struct {
	*httptest.ResponseRecorder
	idf         *identifier
	key         string
	cachedAtEnd []bool
}

func (s *spyWriter) Write(p []byte) (int, error) {
	s.cachedAtEnd = append(s.cachedAtEnd, cached(s.idf, s.key))
	return s.ResponseRecorder.Write(p)
}

func parsed(t *testing.T, body string) *proxy.Request {
	t.Helper()
	req, err := proxy.Parse([]byte(body), &proxy.Nesting{})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// The answer streams through as it comes, and the session is evicted before the write that completes a
// successful logout's answer is passed on: a client never holds the whole answer while the session is cached.
func TestLogoutWatchEvictsBeforeTheAnswerIsComplete(t *testing.T) {
	idf := idLogoutResolver(t, `"s1"`)
	rt := &handlerState{identity: idf}
	spy := &spyWriter{ResponseRecorder: httptest.NewRecorder(), idf: idf, key: `"s1"`}
	lw := rt.watchLogouts(spy, parsed(t, `{"jsonrpc":"2.0","method":"Otys.Services.logout","params":["s1"],"id":1}`))
	if lw == nil {
		t.Fatal("Otys.Services.logout is not watched")
	}
	lw.Header().Set("Content-Type", "application/json")
	lw.WriteHeader(http.StatusOK)
	_, _ = lw.Write([]byte(`{"jsonrpc":"2.0","id":1,`))
	if got := spy.Body.String(); got != `{"jsonrpc":"2.0","id":1,` {
		t.Fatalf("the first part was not passed on at once: %q", got)
	}
	_, _ = lw.Write([]byte(`"result":true}`))
	lw.finish()
	if want := []bool{true, false}; len(spy.cachedAtEnd) != 2 || spy.cachedAtEnd[0] != want[0] || spy.cachedAtEnd[1] != want[1] {
		t.Fatalf("session cached at each write: %v, want %v (evicted before the last part went out)", spy.cachedAtEnd, want)
	}
	if got := spy.Body.String(); got != `{"jsonrpc":"2.0","id":1,"result":true}` {
		t.Fatalf("the client got %q", got)
	}
}

// Only a success evicts: a JSON-RPC error, a failed HTTP answer or a call that is not a logout keeps the
// session; in a batch each logout is judged by its own answer.
func TestLogoutWatchEvictsOnlyOnSuccess(t *testing.T) {
	cases := []struct {
		name, request string
		status        int
		answer        string
		keep, evict   []string
	}{
		{"error answer", `{"jsonrpc":"2.0","method":"logout","params":["a"],"id":1}`, 200,
			`{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"no"}}`, []string{`"a"`}, nil},
		{"HTTP failure", `{"jsonrpc":"2.0","method":"logout","params":["a"],"id":1}`, 502,
			`{"jsonrpc":"2.0","id":1,"result":true}`, []string{`"a"`}, nil},
		{"batch: one ok, one error, one other call", `[
			{"jsonrpc":"2.0","method":"logout","params":["a"],"id":1},
			{"jsonrpc":"2.0","method":"logout","params":["b"],"id":2},
			{"jsonrpc":"2.0","method":"check","params":["c"],"id":3}]`, 200,
			`[{"jsonrpc":"2.0","id":3,"result":{}},{"jsonrpc":"2.0","id":2,"error":{"code":1,"message":"x"}},{"jsonrpc":"2.0","id":1,"result":true}]`,
			[]string{`"b"`, `"c"`}, []string{`"a"`}},
		{"another spelling of the session", `{"jsonrpc":"2.0","method":"logout","params":["\u0061"],"id":1}`, 200,
			`{"jsonrpc":"2.0","id":1,"result":true}`, []string{`"b"`}, []string{`"a"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idf := idLogoutResolver(t, `"a"`, `"b"`, `"c"`)
			rt := &handlerState{identity: idf}
			rec := httptest.NewRecorder()
			lw := rt.watchLogouts(rec, parsed(t, c.request))
			lw.WriteHeader(c.status)
			_, _ = lw.Write([]byte(c.answer))
			lw.finish()
			for _, k := range c.keep {
				if !cached(idf, k) {
					t.Errorf("session %s evicted", k)
				}
			}
			for _, k := range c.evict {
				if cached(idf, k) {
					t.Errorf("session %s still cached", k)
				}
			}
			if rec.Code != c.status || rec.Body.String() != c.answer {
				t.Errorf("the client got %d %q", rec.Code, rec.Body.String())
			}
		})
	}
}

// A request without a logout call is not watched at all.
func TestLogoutWatchOnlyForLogoutCalls(t *testing.T) {
	rt := &handlerState{identity: idLogoutResolver(t)}
	if lw := rt.watchLogouts(httptest.NewRecorder(), parsed(t, `{"jsonrpc":"2.0","method":"logoutAll.x","params":["a"],"id":1}`)); lw != nil {
		t.Fatal("logoutAll.x is watched")
	}
}

// jsonEnd finds the end of an object or array streamed in any chunks, braces in strings and escaped quotes
// included.
func TestJSONEndAcrossChunks(t *testing.T) {
	for _, doc := range []string{
		`{"result":true}`,
		` [ {"a":"}]\"{"} , {"b":[1,2,{}]} ] `,
		`{"s":"\\","t":"\\\""}`,
	} {
		for size := 1; size <= len(doc); size++ {
			var e jsonEnd
			doneAt := -1
			for i := 0; i < len(doc); i += size {
				if e.feed([]byte(doc[i:min(i+size, len(doc))])) && doneAt < 0 {
					doneAt = min(i+size, len(doc))
				}
			}
			last := strings.LastIndexAny(doc, "}]") + 1
			if want := min(((last+size-1)/size)*size, len(doc)); doneAt != want {
				t.Errorf("%s in chunks of %d: complete after byte %d, want %d", doc, size, doneAt, want)
			}
		}
	}
	var e jsonEnd
	if e.feed([]byte(`{"a":"}`)) {
		t.Error(`{"a":"} is complete`)
	}
}

// A printable-ASCII string session has one spelling in the cache; other values keep their raw JSON.
func TestCanonicalSession(t *testing.T) {
	idf := idResolver(t, 0)
	for params, want := range map[string]string{
		`["s1"]`:            `"s1"`,
		`["s\u0031"]`:       `"s1"`,
		`["a\"b\\c\/"]`:     `"a\"b\\c/"`,
		`["\u00e9t\u00e9"]`: `"\u00e9t\u00e9"`,
		`["\ud800"]`:        `"\ud800"`,
		`["tab\there"]`:     `"tab\there"`,
		`[1e2]`:             `1e2`,
		`[{"k":"\u0061"}]`:  `{"k":"\u0061"}`,
	} {
		if got, ok := idf.session([]byte(params)); !ok || got != want {
			t.Errorf("session(%s) = %s, %v; want %s", params, got, ok, want)
		}
	}
}

// isLogout runs in the hot scan of every call: it must not allocate, for a logout or any other method.
func TestIsLogoutDoesNotAllocate(t *testing.T) {
	idf := idLogoutResolver(t)
	for _, m := range []string{"Otys.Services.CandidateService.update", "logout", "Otys.Services.logout"} {
		if a := testing.AllocsPerRun(100, func() { _ = idf.isLogout(m) }); a != 0 {
			t.Errorf("isLogout(%s): %v allocations", m, a)
		}
	}
	if !idf.isLogout("Otys.Services.logout") || idf.isLogout("Otys.Services.CandidateService.update") {
		t.Error("isLogout does not tell a logout from another call")
	}
}
