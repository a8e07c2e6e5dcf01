package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/sidehook/sidehook/internal/fakeows"
)

// mgConfig is the sidehook block of the management tests: the OTYS preset (session in params[0], identity via
// "check", WebhooksService answered locally, fanout one) with the test receiver on 127.0.0.1 allowed.
const mgConfig = `
		preset otys
		delivery {
			allow_destination 127.0.0.1/32
		}`

const (
	mgService  = "Otys.Services.WebhooksService."
	mgUpdate   = "Otys.Services.CandidateService.update"
	mgDenied   = `{"code":-32001,"message":"Access denied; please login first"}`
	mgNotFound = -32004
)

// mgUsers are the fake OWS accounts of the management tests: two users of client 42 and one of client 99.
var mgUsers = []fakeows.User{testUser, {APIKey: "key-42-8", ClientID: "42", UserID: "8"}, {APIKey: "key-99-1", ClientID: "99", UserID: "1"}}

// mgClient bounds every call, so a hang in sidehook fails the test that met it instead of the whole run.
var mgClient = &http.Client{Timeout: 30 * time.Second}

// newMgHarness is a harness whose upstream is a fake OWS the test holds, with mgUsers (and a delay, when set):
// the harness's own fake cannot be given more users.
func newMgHarness(t *testing.T, delay time.Duration) (*harness, *fakeows.Server) {
	t.Helper()
	api := fakeows.New(fakeows.Options{Users: mgUsers, Delay: delay})
	return newHarness(t, harnessOptions{upstream: api}), api
}

// mgCall posts one JSON-RPC call to port and returns the parsed response.
func mgCall(t *testing.T, port int, method string, params ...any) gjson.Result {
	t.Helper()
	return mgCallHeaders(t, port, nil, method, params...)
}

// mgCallHeaders is mgCall with request headers (placeholder identities read them).
func mgCallHeaders(t *testing.T, port int, headers map[string]string, method string, params ...any) gjson.Result {
	t.Helper()
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "params": params, "id": 1})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/", port), strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := mgClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", method, err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("%s: response is not JSON (%d): %v", method, resp.StatusCode, err)
	}
	return gjson.ParseBytes(raw)
}

// mgResult fails unless r is a result, and returns it.
func mgResult(t *testing.T, r gjson.Result, what string) gjson.Result {
	t.Helper()
	if !r.Get("result").Exists() || r.Get("error").Exists() {
		t.Fatalf("%s: want a result, got %s", what, r.Raw)
	}
	return r.Get("result")
}

// mgWantError fails unless r is a JSON-RPC error with code whose message contains all of substrs.
func mgWantError(t *testing.T, r gjson.Result, code int, what string, substrs ...string) {
	t.Helper()
	e := r.Get("error")
	if !e.Exists() || e.Get("code").Int() != int64(code) {
		t.Errorf("%s: want error %d, got %s", what, code, r.Raw)
		return
	}
	for _, s := range substrs {
		if !strings.Contains(e.Get("message").String(), s) {
			t.Errorf("%s: message %q does not say %q", what, e.Get("message").String(), s)
		}
	}
}

// mgAdd adds a subscription and returns its uid.
func mgAdd(t *testing.T, h *harness, sess, pattern, url string, extra map[string]any) string {
	t.Helper()
	obj := map[string]any{"serviceCall": pattern, "webhookUrl": url}
	for k, v := range extra {
		obj[k] = v
	}
	uid := mgResult(t, mgCall(t, h.port, mgService+"add", sess, obj), "add "+pattern).String()
	if uid == "" {
		t.Fatalf("add %s: empty uid", pattern)
	}
	return uid
}

// mgFire makes a successful CandidateService.update as sess; a subscription to it fires.
func mgFire(t *testing.T, h *harness, sess string, n int) {
	t.Helper()
	mgResult(t, mgCall(t, h.port, mgUpdate, sess, "cand-1", map[string]any{"n": n}), "CandidateService.update")
}

// mgStoredSubscriptions counts the subscriptions the admin API sees: what is stored, whoever stored it.
func mgStoredSubscriptions(t *testing.T) int {
	t.Helper()
	var subs []json.RawMessage
	adminGet(t, "/sidehook/subscriptions", &subs)
	return len(subs)
}

// Two clients each see and change only their own subscriptions; the other's uid and log ids are "not found"
// and change nothing; a call by one client never fires the other's subscription.
func TestManagementTenantIsolation(t *testing.T) {
	h, _ := newMgHarness(t, 0)
	h.load(mgConfig)
	a, b := h.login(), h.loginAs("key-99-1")
	uidA := mgAdd(t, h, a, "CandidateService.update", h.recv.srv.URL+"/a", nil)
	uidB := mgAdd(t, h, b, "CandidateService.update", h.recv.srv.URL+"/b", nil)

	listA := mgResult(t, mgCall(t, h.port, mgService+"getList", a), "getList A")
	listB := mgResult(t, mgCall(t, h.port, mgService+"getList", b), "getList B")
	if n := len(listA.Array()); n != 1 || listA.Get("0.uid").String() != uidA || listA.Get("0.klantid").String() != "42" || listA.Get("0.userid").String() != "7" {
		t.Fatalf("client 42 sees %s, want only %s", listA.Raw, uidA)
	}
	if n := len(listB.Array()); n != 1 || listB.Get("0.uid").String() != uidB || listB.Get("0.klantid").String() != "99" {
		t.Fatalf("client 99 sees %s, want only %s", listB.Raw, uidB)
	}

	// Client 99 on client 42's uid: not found, nothing changes.
	mgWantError(t, mgCall(t, h.port, mgService+"update", b, uidA, map[string]any{"webhookUrl": h.recv.srv.URL + "/stolen"}), mgNotFound, "update other's uid", uidA)
	mgWantError(t, mgCall(t, h.port, mgService+"rotateSecret", b, uidA), mgNotFound, "rotateSecret other's uid")
	mgWantError(t, mgCall(t, h.port, mgService+"delete", b, uidA), mgNotFound, "delete other's uid")
	if after := mgResult(t, mgCall(t, h.port, mgService+"getList", a), "getList A again"); after.Raw != listA.Raw {
		t.Fatalf("client 42's subscriptions changed through client 99:\nbefore %s\nafter  %s", listA.Raw, after.Raw)
	}

	// Each client's call fires its own subscription only.
	mgFire(t, h, a, 1)
	mgFire(t, h, b, 2)
	h.settled(2)
	got := h.recv.deliveries()
	byPath := map[string]string{}
	for _, d := range got {
		byPath[d.Path] = gjson.GetBytes(d.Body, "user.clientId").String()
	}
	if len(got) != 2 || byPath["/a"] != "42" || byPath["/b"] != "99" {
		t.Fatalf("deliveries %v, want /a for client 42 and /b for client 99, once each", byPath)
	}

	// Logs are per client; the other client's log id is not found for retry.
	logsA := mgResult(t, mgCall(t, h.port, mgService+"getLogs", a), "getLogs A").Array()
	logsB := mgResult(t, mgCall(t, h.port, mgService+"getLogs", b), "getLogs B").Array()
	if len(logsA) != 1 || logsA[0].Get("klantid").String() != "42" || len(logsB) != 1 || logsB[0].Get("klantid").String() != "99" {
		t.Fatalf("logs: client 42 sees %v, client 99 sees %v; want one own item each", logsA, logsB)
	}
	mgWantError(t, mgCall(t, h.port, mgService+"retry", b, logsA[0].Get("id").String()), mgNotFound, "retry other's log")
	mgWantError(t, mgCall(t, h.port, mgService+"retry", a, logsB[0].Get("id").String()), mgNotFound, "retry other's log")
	// The refused retries queued nothing: the next legitimate one is the only extra delivery.
	mgResult(t, mgCall(t, h.port, mgService+"retry", a, logsA[0].Get("id").String()), "retry own log")
	h.settled(3)
	if got := h.recv.deliveries(); len(got) != 3 || got[2].Path != "/a" {
		t.Fatalf("after the retries: %d deliveries, want 3 with the last to /a", len(got))
	}
}

// Without an authenticated identity every management op is refused with the OTYS error and stores nothing:
// no session, an unknown session, a resolver that answers with a JSON-RPC error, an upstream that fails.
func TestManagementAccessDenied(t *testing.T) {
	add := map[string]any{"serviceCall": "CandidateService.update", "webhookUrl": "http://127.0.0.1:9/x"}
	cases := []struct {
		name     string
		config   string
		upstream http.Handler
	}{
		{"resolve check", mgConfig, nil},
		{"resolver error", mgConfig + "\n\t\tidentity {\n\t\t\tresolve fail {\n\t\t\t\tclient clientId\n\t\t\t}\n\t\t}", nil},
		{"upstream down", mgConfig, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{upstream: c.upstream})
			h.load(c.config)
			sessions := []any{nil, "sess_unknown", 42}
			if c.name == "resolver error" {
				sessions = append(sessions, h.login()) // a real session: only the resolver's failure refuses it
			}
			for _, sess := range sessions {
				for _, op := range []struct {
					name   string
					params []any
				}{
					{"getList", []any{sess}},
					{"add", []any{sess, add}},
					{"getLogs", []any{sess}},
					{"delete", []any{sess, "abc"}},
				} {
					r := mgCall(t, h.port, mgService+op.name, op.params...)
					if got := r.Get("error").Raw; got != mgDenied {
						t.Errorf("%s with session %v: got %s, want error %s", op.name, sess, r.Raw, mgDenied)
					}
				}
			}
			r := mgCall(t, h.port, mgService+"getList") // no params at all
			if got := r.Get("error").Raw; got != mgDenied {
				t.Errorf("getList without params: %s", r.Raw)
			}
			if n := mgStoredSubscriptions(t); n != 0 {
				t.Errorf("%d subscriptions stored by refused calls", n)
			}
			if hits := grepDir(t, h.dir, "127.0.0.1:9/x"); len(hits) > 0 {
				t.Errorf("the refused subscription's URL was written: %v", hits)
			}
		})
	}
}

// A placeholder identity (request headers here) authenticates when its client is not empty, and scopes
// subscriptions and firing by that client.
func TestManagementPlaceholderIdentity(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(`
		management
		identity {
			client {http.request.header.X-Client-Id}
			user {http.request.header.X-User-Id}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	as := func(client string) map[string]string {
		return map[string]string{"X-Client-Id": client, "X-User-Id": "u1"}
	}
	obj := map[string]any{"serviceCall": "echo", "webhookUrl": h.recv.srv.URL + "/echo"}

	if r := mgCallHeaders(t, h.port, nil, "WebhooksService.add", nil, obj); r.Get("error").Raw != mgDenied {
		t.Fatalf("add without the client header: %s", r.Raw)
	}
	if n := mgStoredSubscriptions(t); n != 0 {
		t.Fatalf("a refused add stored %d subscriptions", n)
	}
	uid := mgResult(t, mgCallHeaders(t, h.port, as("42"), "WebhooksService.add", nil, obj), "add as 42").String()
	list := mgResult(t, mgCallHeaders(t, h.port, as("42"), "WebhooksService.getList", nil), "getList as 42")
	if len(list.Array()) != 1 || list.Get("0.uid").String() != uid || list.Get("0.klantid").String() != "42" || list.Get("0.userid").String() != "u1" {
		t.Fatalf("client 42 sees %s", list.Raw)
	}
	if other := mgResult(t, mgCallHeaders(t, h.port, as("99"), "WebhooksService.getList", nil), "getList as 99"); len(other.Array()) != 0 {
		t.Fatalf("client 99 sees client 42's subscriptions: %s", other.Raw)
	}

	mgResult(t, mgCallHeaders(t, h.port, as("99"), "echo", "from 99"), "echo as 99")
	mgResult(t, mgCallHeaders(t, h.port, as("42"), "echo", "from 42"), "echo as 42")
	h.settled(1)
	got := h.recv.deliveries()
	if len(got) != 1 || gjson.GetBytes(got[0].Body, "request.args.0").String() != "from 42" || gjson.GetBytes(got[0].Body, "user.clientId").String() != "42" {
		t.Fatalf("want only client 42's echo delivered, got %d deliveries", len(got))
	}
}

// Concurrent first calls with one new session make one upstream "check"; later calls use the cached answer.
func TestManagementResolveOnceForConcurrentFirstCalls(t *testing.T) {
	h, api := newMgHarness(t, 150*time.Millisecond) // the upstream is slow, so the first calls overlap
	h.load(mgConfig)
	sess := h.login()
	const callers = 8
	var wg sync.WaitGroup
	results := make([]gjson.Result, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = mgCall(t, h.port, mgService+"getList", sess)
		}()
	}
	wg.Wait()
	for i, r := range results {
		mgResult(t, r, fmt.Sprintf("getList %d", i))
	}
	mgResult(t, mgCall(t, h.port, mgService+"getList", sess), "getList after")
	checks := 0
	for _, c := range api.Calls() {
		if c == "check" {
			checks++
		}
	}
	if checks != 1 {
		t.Fatalf("%d concurrent first calls and one more made %d upstream check calls, want 1", callers, checks)
	}
}

// klantGlobal=false fires only for its own user (given as the string "false"); with fanout one, a user with
// their own subscription gets that one instead of the client-wide one, and the others get the client-wide one.
func TestManagementKlantGlobalAndFanoutOne(t *testing.T) {
	h, _ := newMgHarness(t, 0)
	h.load(mgConfig)
	u7, u8 := h.login(), h.loginAs("key-42-8")
	own := mgAdd(t, h, u7, "CandidateService.update", h.recv.srv.URL+"/own7", map[string]any{"klantGlobal": "false"})
	mgFire(t, h, u8, 1) // user 8: user 7's own subscription must not fire
	mgFire(t, h, u7, 2) // fires /own7
	h.settled(1)

	global := mgAdd(t, h, u8, "CandidateService.update", h.recv.srv.URL+"/global", map[string]any{"klantGlobal": "true"})
	list := mgResult(t, mgCall(t, h.port, mgService+"getList", u7), "getList")
	kg := map[string]string{}
	list.ForEach(func(_, v gjson.Result) bool { kg[v.Get("uid").String()] = v.Get("klantGlobal").Raw; return true })
	if kg[own] != "false" || kg[global] != "true" {
		t.Fatalf("klantGlobal in getList: %v (own %s, global %s)", kg, own, global)
	}
	mgFire(t, h, u7, 3) // fanout one: user 7's own, not the global one
	mgFire(t, h, u8, 4) // user 8: the global one
	h.settled(3)

	var got []string
	for _, d := range h.recv.deliveries() {
		got = append(got, fmt.Sprintf("%s by %s n=%d", d.Path, gjson.GetBytes(d.Body, "user.internalId"), gjson.GetBytes(d.Body, "request.args.2.n").Int()))
	}
	slices.Sort(got)
	want := []string{"/global by 8 n=4", "/own7 by 7 n=2", "/own7 by 7 n=3"}
	if !slices.Equal(got, want) {
		t.Fatalf("deliveries %q, want %q", got, want)
	}
	mgWantError(t, mgCall(t, h.port, mgService+"add", u7, map[string]any{"serviceCall": "x", "webhookUrl": h.recv.srv.URL, "klantGlobal": "yes"}), -32602, "klantGlobal yes", "klantGlobal")
}

// A subscription fires for the very next call after add, at its new URL for the next call after update, and
// no longer for the next call after delete.
func TestManagementChangesApplyToTheNextCall(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(mgConfig + `
		subscribe VacancyService.update {recv}/marker {
			secret {secret}
		}`)
	sess := h.login()
	uid := mgAdd(t, h, sess, "CandidateService.update", h.recv.srv.URL+"/dyn", nil)
	mgFire(t, h, sess, 1)
	if d := h.recv.waitCount(t, 1); d[0].Path != "/dyn" {
		t.Fatalf("first delivery to %s", d[0].Path)
	}
	// An update naming only the URL moves the next call's delivery and keeps the rest.
	if r := mgResult(t, mgCall(t, h.port, mgService+"update", sess, uid, map[string]any{"webhookUrl": h.recv.srv.URL + "/moved"}), "update"); r.Raw != "[]" {
		t.Fatalf("update answered %s, want []", r.Raw)
	}
	if s := mgResult(t, mgCall(t, h.port, mgService+"getList", sess), "getList").Get("0"); s.Get("serviceCall").String() != "CandidateService.update" || s.Get("klantGlobal").Raw != "true" {
		t.Fatalf("update changed more than the URL: %s", s.Raw)
	}
	mgFire(t, h, sess, 2)
	if d := h.recv.waitCount(t, 2); d[1].Path != "/moved" {
		t.Fatalf("delivery after the update to %s", d[1].Path)
	}
	if r := mgResult(t, mgCall(t, h.port, mgService+"delete", sess, uid), "delete"); r.Raw != "true" {
		t.Fatalf("delete answered %s, want true", r.Raw)
	}
	mgFire(t, h, sess, 3) // must not fire
	mgResult(t, mgCall(t, h.port, "Otys.Services.VacancyService.update", sess, "vac-1", map[string]any{"t": 1}), "marker call")
	h.settled(3)
	var paths []string
	for _, d := range h.recv.deliveries() {
		paths = append(paths, d.Path)
	}
	if !slices.Equal(paths, []string{"/dyn", "/moved", "/marker"}) {
		t.Fatalf("deliveries %v, want [/dyn /moved /marker]: the deleted subscription fired", paths)
	}
	if list := mgResult(t, mgCall(t, h.port, mgService+"getList", sess), "getList"); len(list.Array()) != 0 {
		t.Fatalf("getList after delete: %s", list.Raw)
	}
}

// Bad input gets a JSON-RPC error that names the field and the reason, and stores nothing.
func TestManagementValidation(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(mgConfig + `
		subscribe VacancyService.update {recv}/static {
			secret {secret}
			client 42
			user 7
		}`)
	sess := h.login()
	good := h.recv.srv.URL + "/ok"
	static := mgResult(t, mgCall(t, h.port, mgService+"getList", sess), "getList").Get("0.uid").String()
	if static == "" {
		t.Fatal("client 42 does not see its static subscription")
	}
	obj := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name   string
		op     string
		params []any
		code   int
		says   []string
	}{
		{"not an object", "add", []any{sess, "CandidateService.update"}, -32602, []string{"object"}},
		{"no params[1]", "add", []any{sess}, -32602, []string{"object"}},
		{"missing serviceCall", "add", []any{sess, obj("webhookUrl", good)}, -32602, []string{"missing", "serviceCall"}},
		{"missing webhookUrl", "add", []any{sess, obj("serviceCall", "CandidateService.update")}, -32602, []string{"missing", "webhookUrl"}},
		{"unknown field", "add", []any{sess, obj("serviceCall", "a.b", "webhookUrl", good, "colour", "red")}, -32602, []string{"unknown field", "colour"}},
		{"empty pattern", "add", []any{sess, obj("serviceCall", "", "webhookUrl", good)}, -32602, []string{"serviceCall", "empty"}},
		{"empty segment", "add", []any{sess, obj("serviceCall", "CandidateService..update", "webhookUrl", good)}, -32602, []string{"serviceCall", "segment"}},
		{"partial wildcard", "add", []any{sess, obj("serviceCall", "Candidate*.update", "webhookUrl", good)}, -32602, []string{"serviceCall", "*"}},
		{"pattern not a string", "add", []any{sess, obj("serviceCall", 5, "webhookUrl", good)}, -32602, []string{"serviceCall"}},
		{"relative URL", "add", []any{sess, obj("serviceCall", "a.b", "webhookUrl", "/hooks")}, -32602, []string{"webhookUrl", "absolute"}},
		{"ftp URL", "add", []any{sess, obj("serviceCall", "a.b", "webhookUrl", "ftp://example.com/x")}, -32602, []string{"webhookUrl", "http"}},
		{"private address", "add", []any{sess, obj("serviceCall", "a.b", "webhookUrl", "http://10.0.0.1/x")}, -32602, []string{"webhookUrl", "10.0.0.1"}},
		{"metadata address", "add", []any{sess, obj("serviceCall", "a.b", "webhookUrl", "http://169.254.169.254/latest")}, -32602, []string{"webhookUrl", "169.254.169.254"}},
		{"IPv6 loopback", "add", []any{sess, obj("serviceCall", "a.b", "webhookUrl", "http://[::1]:8080/x")}, -32602, []string{"webhookUrl", "::1"}},
		{"loopback outside allow", "add", []any{sess, obj("serviceCall", "a.b", "webhookUrl", "http://127.0.0.2/x")}, -32602, []string{"webhookUrl", "127.0.0.2"}},
		{"bad secret", "add", []any{sess, obj("serviceCall", "a.b", "webhookUrl", good, "secret", "hunter2")}, -32602, []string{"secret"}},
		{"update unknown uid", "update", []any{sess, "nosuchuid", obj("webhookUrl", good)}, mgNotFound, []string{"nosuchuid", "not found"}},
		{"update bad URL", "update", []any{sess, "nosuchuid", obj("webhookUrl", "http://10.0.0.1/")}, -32602, []string{"webhookUrl"}},
		{"update without uid", "update", []any{sess}, -32602, []string{"uid"}},
		{"update without object", "update", []any{sess, "nosuchuid"}, -32602, []string{"params[2]", "object"}},
		{"update secret", "update", []any{sess, static, obj("secret", h.secret)}, -32602, []string{"rotateSecret"}},
		{"update static", "update", []any{sess, static, obj("webhookUrl", good)}, -32005, []string{"read-only"}},
		{"delete static", "delete", []any{sess, static}, -32005, []string{"read-only"}},
		{"rotateSecret static", "rotateSecret", []any{sess, static}, -32005, []string{"read-only"}},
		{"delete unknown uid", "delete", []any{sess, "nosuchuid"}, mgNotFound, []string{"nosuchuid", "not found"}},
		{"rotateSecret unknown uid", "rotateSecret", []any{sess, "nosuchuid"}, mgNotFound, []string{"not found"}},
		{"retry unknown log", "retry", []any{sess, "nosuchlog"}, mgNotFound, []string{"not found"}},
		{"getLogs bad count", "getLogs", []any{sess, "ten"}, -32602, []string{"number"}},
		{"unknown op", "frobnicate", []any{sess}, -32601, []string{"frobnicate"}},
	}
	for _, c := range cases {
		mgWantError(t, mgCall(t, h.port, mgService+c.op, c.params...), c.code, c.name, c.says...)
	}
	list := mgResult(t, mgCall(t, h.port, mgService+"getList", sess), "getList after")
	if len(list.Array()) != 1 || list.Get("0.webhookUrl").String() != h.recv.srv.URL+"/static" || list.Get("0.secret").String() != h.secret {
		t.Fatalf("rejected calls changed the subscriptions: %s", list.Raw)
	}
}

// rotateSecret returns a new secret; during the grace period each delivery carries two signatures, the new
// secret's first, and each verifies on its own with its secret.
func TestManagementRotateSecretSignsWithBoth(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(mgConfig)
	sess := h.login()
	uid := mgAdd(t, h, sess, "CandidateService.update", h.recv.srv.URL+"/rot", map[string]any{"secret": h.secret})
	fresh := mgResult(t, mgCall(t, h.port, mgService+"rotateSecret", sess, uid), "rotateSecret").String()
	if !strings.HasPrefix(fresh, "whsec_") || fresh == h.secret {
		t.Fatalf("rotateSecret returned %q (old %q)", fresh, h.secret)
	}
	if s := mgResult(t, mgCall(t, h.port, mgService+"getList", sess), "getList").Get("0.secret").String(); s != fresh {
		t.Fatalf("getList shows secret %q, want the new one", s)
	}
	mgFire(t, h, sess, 1)
	d := h.recv.waitCount(t, 1)[0]
	sigs := strings.Fields(d.Header.Get("webhook-signature"))
	if len(sigs) != 2 {
		t.Fatalf("webhook-signature %q: want two entries during the grace period", d.Header.Get("webhook-signature"))
	}
	for i, secret := range []string{fresh, h.secret} {
		one := delivery{Path: d.Path, Body: d.Body, Header: d.Header.Clone()}
		one.Header.Set("webhook-signature", sigs[i])
		verify(t, secret, one)
	}
}

// getLogs returns the documented log items of the caller's client, newest first, limited by n; retry delivers the
// same message again.
func TestManagementLogsAndRetry(t *testing.T) {
	h, _ := newMgHarness(t, 0)
	h.load(mgConfig)
	sess, other := h.login(), h.loginAs("key-99-1")
	mgAdd(t, h, sess, "CandidateService.update", h.recv.srv.URL+"/logs", nil)
	mgFire(t, h, sess, 1)
	h.settled(1) // the two events get distinct, ordered times
	mgFire(t, h, sess, 2)
	h.settled(2)

	items := mgResult(t, mgCall(t, h.port, mgService+"getLogs", sess), "getLogs").Array()
	if len(items) != 2 {
		t.Fatalf("getLogs: %d items, want 2", len(items))
	}
	want := []string{"id", "klantid", "userid", "webhook_url", "request_data", "response_data", "response_code", "added", "is_processed", "processed", "status", "attempts", "next_attempt"}
	var keys []string
	items[0].ForEach(func(k, _ gjson.Result) bool { keys = append(keys, k.String()); return true })
	if !slices.Equal(keys, want) {
		t.Errorf("log item fields %v, want %v", keys, want)
	}
	dateTime := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)
	for i, it := range items {
		if n := gjson.Get(it.Get("request_data").String(), "request.args.2.n").Int(); n != int64(2-i) {
			t.Errorf("item %d is call n=%d: want newest first", i, n)
		}
		if it.Get("klantid").String() != "42" || it.Get("userid").String() != "7" || it.Get("status").String() != "delivered" ||
			it.Get("is_processed").String() != "1" || it.Get("response_code").Int() != 200 || it.Get("attempts").Int() != 1 ||
			it.Get("webhook_url").String() != h.recv.srv.URL+"/logs" || it.Get("request_data").Type != gjson.String {
			t.Errorf("item %d: %s", i, it.Raw)
		}
		for _, f := range []string{"added", "processed"} {
			if !dateTime.MatchString(it.Get(f).String()) {
				t.Errorf("item %d: %s = %q, want YYYY-MM-DD HH:MM:SS", i, f, it.Get(f).String())
			}
		}
	}
	if one := mgResult(t, mgCall(t, h.port, mgService+"getLogs", sess, 1), "getLogs 1").Array(); len(one) != 1 || one[0].Get("id").String() != items[0].Get("id").String() {
		t.Errorf("getLogs 1: %v, want the newest item", one)
	}
	if theirs := mgResult(t, mgCall(t, h.port, mgService+"getLogs", other), "getLogs other"); len(theirs.Array()) != 0 {
		t.Errorf("client 99 sees client 42's logs: %s", theirs.Raw)
	}

	oldest := items[1]
	if r := mgResult(t, mgCall(t, h.port, mgService+"retry", sess, oldest.Get("id").String()), "retry"); r.Raw != "true" {
		t.Fatalf("retry answered %s", r.Raw)
	}
	h.settled(3)
	got := h.recv.deliveries()
	if len(got) != 3 || string(got[2].Body) != oldest.Get("request_data").String() {
		t.Fatalf("retry delivered %d in all; the last one is not the retried body", len(got))
	}
	if got[2].Header.Get("webhook-id") != got[0].Header.Get("webhook-id") {
		t.Errorf("retry webhook-id %q, first delivery %q: want the same", got[2].Header.Get("webhook-id"), got[0].Header.Get("webhook-id"))
	}
	verify(t, mgResult(t, mgCall(t, h.port, mgService+"getList", sess), "getList").Get("0.secret").String(), got[2])
}

// A batch mixing WebhooksService.add with two upstream calls: the upstream gets exactly its two calls, the
// client three answers in request order. The same inside an OTYS MultiService.execute.
func TestManagementMixedWithUpstreamCalls(t *testing.T) {
	h, api := newMgHarness(t, 0)
	h.load(mgConfig)
	sess := h.login()
	mgResult(t, mgCall(t, h.port, mgService+"getList", sess), "getList") // resolves the session: no "check" below

	before := len(api.Requests())
	batch := fmt.Sprintf(`[
		{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.getDetail","params":[%[1]q,"cand-1"],"id":1},
		{"jsonrpc":"2.0","method":"Otys.Services.WebhooksService.add","params":[%[1]q,{"serviceCall":"VacancyService.update","webhookUrl":"%[2]s/v"}],"id":"add"},
		{"jsonrpc":"2.0","method":"Otys.Services.VacancyService.getDetail","params":[%[1]q,"vac-1"],"id":3}
	]`, sess, h.recv.srv.URL)
	_, resp := h.post(batch)
	answers := gjson.Parse(resp).Array()
	if len(answers) != 3 {
		t.Fatalf("batch answer: %s", resp)
	}
	for i, id := range []string{"1", `"add"`, "3"} {
		if answers[i].Get("id").Raw != id || !answers[i].Get("result").Exists() {
			t.Errorf("answer %d: %s, want a result with id %s", i, answers[i].Raw, id)
		}
	}
	if answers[0].Get("result.firstName").String() != "Ada" || answers[2].Get("result.title").String() != "Go developer" {
		t.Errorf("upstream answers: %s", resp)
	}
	uid := answers[1].Get("result").String()
	sent := api.Requests()[before:]
	if len(sent) != 1 {
		t.Fatalf("the upstream got %d requests for the batch, want 1", len(sent))
	}
	var methods []string
	for _, c := range gjson.ParseBytes(sent[0]).Array() {
		methods = append(methods, c.Get("method").String())
	}
	if !slices.Equal(methods, []string{"Otys.Services.CandidateService.getDetail", "Otys.Services.VacancyService.getDetail"}) {
		t.Fatalf("the upstream got calls %v: %s", methods, sent[0])
	}

	// The same inside MultiService.execute: the inner add is answered here, the inner getDetail upstream.
	before = len(api.Requests())
	multi := mgCall(t, h.port, "Otys.Services.MultiService.execute", []any{
		map[string]any{"method": "Otys.Services.WebhooksService.add", "args": []any{sess, map[string]any{"serviceCall": "CandidateService.update", "webhookUrl": h.recv.srv.URL + "/c"}}},
		map[string]any{"method": "Otys.Services.CandidateService.getDetail", "args": []any{sess, "cand-1"}},
	})
	entries := mgResult(t, multi, "MultiService.execute").Array()
	if len(entries) != 2 || entries[0].Get("status").String() != "success" || entries[0].Get("data").Type != gjson.String ||
		entries[1].Get("status").String() != "success" || entries[1].Get("data.firstName").String() != "Ada" {
		t.Fatalf("MultiService.execute answer: %s", multi.Raw)
	}
	sent = api.Requests()[before:]
	if len(sent) != 1 || strings.Contains(string(sent[0]), "WebhooksService") || !strings.Contains(string(sent[0]), "CandidateService.getDetail") {
		t.Fatalf("the upstream got %d requests: %q", len(sent), sent)
	}

	list := mgResult(t, mgCall(t, h.port, mgService+"getList", sess), "getList")
	uids := map[string]bool{}
	list.ForEach(func(_, v gjson.Result) bool { uids[v.Get("uid").String()] = true; return true })
	if len(uids) != 2 || !uids[uid] || !uids[entries[0].Get("data").String()] {
		t.Fatalf("getList after the nested adds: %s", list.Raw)
	}
}
