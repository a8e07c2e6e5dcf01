package fakeows

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

var testUser = User{APIKey: "key-a", ClientID: "client-1", UserID: "user-1"}

func post(t *testing.T, s *Server, body string) (int, http.Header, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code == http.StatusOK {
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type = %q", ct)
		}
		if !gjson.Valid(rec.Body.String()) {
			t.Fatalf("invalid JSON response: %s", rec.Body.String())
		}
	}
	return rec.Code, rec.Header(), rec.Body.String()
}

func login(t *testing.T, s *Server) string {
	t.Helper()
	_, _, body := post(t, s, `{"jsonrpc":"2.0","method":"login","params":["key-a"],"id":1}`)
	sess := gjson.Get(body, "result").String()
	if !strings.HasPrefix(sess, "sess_") {
		t.Fatalf("login: %s", body)
	}
	return sess
}

func call(method, params string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":%s,"id":7}`, method, params)
}

func TestBehaviour(t *testing.T) {
	const denied = `{"code":-32001,"message":"Access denied; please login first"}`
	tests := []struct {
		name   string
		body   string // "$S" is replaced by a valid session
		status int
		want   map[string]string // gjson path -> raw JSON expected
	}{
		{"login unknown key", call("login", `["nope"]`), 200, map[string]string{"error": denied, "id": "7"}},
		{"login no params", `{"jsonrpc":"2.0","method":"login","id":7}`, 200, map[string]string{"error.code": "-32001"}},
		{"logout", call("logout", `["$S"]`), 200, map[string]string{"result": "true", "id": "7"}},
		{"check", call("check", `["$S"]`), 200, map[string]string{"result": `{"clientId":"client-1","id":"user-1","username":"user-1"}`}},
		{"check invalid session", call("check", `["sess_bogus"]`), 200, map[string]string{"error": denied, "result": ""}},
		{"check absent session", call("check", `[]`), 200, map[string]string{"error": denied}},
		{"candidate add", call("Otys.Services.CandidateService.add", `["$S",{"firstName":"Bob"}]`), 200, map[string]string{"result": `"cand-2"`}},
		{"candidate add no session", call("Otys.Services.CandidateService.add", `["x",{"firstName":"Bob"}]`), 200, map[string]string{"error": denied}},
		{"candidate add bad fields", call("Otys.Services.CandidateService.add", `["$S","oops"]`), 200, map[string]string{"error.code": "-32602"}},
		{"candidate update", call("Otys.Services.CandidateService.update", `["$S","cand-1",{"email":"x@y"}]`), 200, map[string]string{"result": "true"}},
		{"candidate update unknown", call("Otys.Services.CandidateService.update", `["$S","cand-99",{}]`), 200, map[string]string{"error": `{"code":-32004,"message":"Candidate not found"}`}},
		{"candidate update no session", call("Otys.Services.CandidateService.update", `[null,"cand-1",{}]`), 200, map[string]string{"error": denied}},
		{"candidate getDetail", call("Otys.Services.CandidateService.getDetail", `["$S","cand-1"]`), 200, map[string]string{"result.uid": `"cand-1"`, "result.firstName": `"Ada"`, "result.token": `"tok-cand-1-secret"`}},
		{"candidate getDetail short", call("CandidateService.getDetail", `["$S","cand-1"]`), 200, map[string]string{"result.token": `"tok-cand-1-secret"`}},
		{"candidate getDetail unknown", call("CandidateService.getDetail", `["$S","nope"]`), 200, map[string]string{"error.code": "-32004"}},
		{"candidate update short", call("CandidateService.update", `["$S","cand-1",{"a":1}]`), 200, map[string]string{"result": "true"}},
		{"vacancy update", call("Otys.Services.VacancyService.update", `["$S","vac-1",{"title":"Rust dev"}]`), 200, map[string]string{"result": "true"}},
		{"vacancy update short", call("VacancyService.update", `["$S","vac-1",{"title":"Rust dev"}]`), 200, map[string]string{"result": "true"}},
		{"vacancy update no session", call("Otys.Services.VacancyService.update", `["bad","vac-1",{}]`), 200, map[string]string{"error": denied}},
		{"vacancy getDetail", call("Otys.Services.VacancyService.getDetail", `["$S","vac-1"]`), 200, map[string]string{"result": `{"title":"Go developer","uid":"vac-1"}`}},
		{"multi execute", call("Otys.Services.MultiService.execute", `[[{"method":"Otys.Services.CandidateService.update","args":["$S","cand-1",{"x":1}]},{"method":"fail","args":[]},{"method":"echo","args":[1,2]},{"method":"check","args":["bad"]}]]`), 200,
			map[string]string{"result": `[{"status":"success","data":true},{"status":"error","message":"failure on purpose"},{"status":"success","data":[1,2]},{"status":"error","message":"Access denied; please login first"}]`}},
		{"multi execute short", call("MultiService.execute", `[[{"method":"echo","args":["a"]}]]`), 200, map[string]string{"result": `[{"status":"success","data":["a"]}]`}},
		{"multi execute bad params", call("Otys.Services.MultiService.execute", `["nope"]`), 200, map[string]string{"error.code": "-32602"}},
		{"wrapRequest", call("Otys.Services.LanguageService.wrapRequest", `["en",{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.getDetail","params":["$S","cand-1"],"id":1}]`), 200, map[string]string{"result.token": `"tok-cand-1-secret"`}},
		{"wrapRequest no jsonrpc/id", call("LanguageService.wrapRequest", `["nl",{"method":"echo","params":["hi"]}]`), 200, map[string]string{"result": `["hi"]`}},
		{"wrapRequest string inner", call("LanguageService.wrapRequest", `["nl","{\"method\":\"echo\",\"params\":[3]}"]`), 200, map[string]string{"result": `[3]`}},
		{"wrapRequest inner fails", call("Otys.Services.LanguageService.wrapRequest", `["en",{"method":"fail","params":[]}]`), 200, map[string]string{"error": `{"code":-32000,"message":"failure on purpose"}`}},
		{"wrapRequest inner denied", call("Otys.Services.LanguageService.wrapRequest", `["en",{"method":"Otys.Services.VacancyService.update","params":["bad","vac-1",{}]}]`), 200, map[string]string{"error": denied}},
		{"system.multicall", call("system.multicall", `[[{"methodName":"echo","params":[1]},{"methodName":"fail","params":[]},{"methodName":"nope.x","params":[]}]]`), 200,
			map[string]string{"result": `[[[1]],{"faultCode":-32000,"faultString":"failure on purpose"},{"faultCode":-32601,"faultString":"Method not found"}]`}},
		{"webhooks service", call("Otys.Services.WebhooksService.add", `["$S",{}]`), 200, map[string]string{"error": `{"code":-32601,"message":"upstream WebhooksService must not be reached"}`}},
		{"webhooks service short", call("WebhooksService.getList", `["$S"]`), 200, map[string]string{"error.message": `"upstream WebhooksService must not be reached"`}},
		{"unknown method", call("Otys.Services.NopeService.x", `[]`), 200, map[string]string{"error": `{"code":-32601,"message":"Method not found"}`}},
		{"fail", call("fail", `[]`), 200, map[string]string{"error": `{"code":-32000,"message":"failure on purpose"}`}},
		{"echo", call("echo", `[1,"a",{"b":null}]`), 200, map[string]string{"result": `[1,"a",{"b":null}]`, "jsonrpc": `"2.0"`}},
		{"echo object params", call("echo", `{"k":"v"}`), 200, map[string]string{"result": `{"k":"v"}`}},
		{"string id kept", `{"jsonrpc":"2.0","method":"echo","params":[],"id":"abc"}`, 200, map[string]string{"id": `"abc"`, "result": "[]"}},
		{"null id answered", `{"jsonrpc":"2.0","method":"echo","params":[],"id":null}`, 200, map[string]string{"id": `null`, "result": "[]"}},
		{"parse error", `{"jsonrpc":`, 200, map[string]string{"error.code": "-32700", "id": "null"}},
		{"parse error empty", ``, 200, map[string]string{"error.code": "-32700"}},
		{"invalid request", `{"jsonrpc":"2.0","id":1}`, 200, map[string]string{"error.code": "-32600", "id": "1"}},
		{"invalid request scalar", `42`, 200, map[string]string{"error.code": "-32600", "id": "null"}},
		{"empty batch", `[]`, 200, map[string]string{"error.code": "-32600"}},
		{"notification", `{"jsonrpc":"2.0","method":"echo","params":[]}`, 204, nil},
		{"batch of notifications", `[{"jsonrpc":"2.0","method":"echo"},{"jsonrpc":"2.0","method":"fail"}]`, 204, nil},
		{"batch mixed", `[{"jsonrpc":"2.0","method":"echo","params":[1],"id":1},{"jsonrpc":"2.0","method":"echo","params":[2]},{"jsonrpc":"2.0","method":"fail","id":3},5]`, 200,
			map[string]string{"#": "3", "0.result": "[1]", "1.error.code": "-32000", "1.id": "3", "2.error.code": "-32600"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{Users: []User{testUser}})
			sess := login(t, s)
			status, _, body := post(t, s, strings.ReplaceAll(tc.body, "$S", sess))
			if status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", status, tc.status, body)
			}
			if tc.status == 204 && body != "" {
				t.Fatalf("204 with body %q", body)
			}
			for path, want := range tc.want {
				if got := gjson.Get(body, path).Raw; got != want {
					t.Errorf("%s = %s, want %s\nbody: %s", path, got, want, body)
				}
			}
		})
	}
}

func TestLoginSessionsDistinct(t *testing.T) {
	s := New(Options{Users: []User{testUser, {APIKey: "key-b", ClientID: "client-2", UserID: "user-2"}}})
	a, b := login(t, s), login(t, s)
	if a == b {
		t.Fatalf("same session twice: %s", a)
	}
	_, _, body := post(t, s, call("login", `["key-b"]`))
	sb := gjson.Get(body, "result").String()
	_, _, body = post(t, s, call("check", fmt.Sprintf(`[%q]`, sb)))
	if got := gjson.Get(body, "result.clientId").String(); got != "client-2" {
		t.Fatalf("check: %s", body)
	}
	// logout invalidates
	post(t, s, call("logout", fmt.Sprintf(`[%q]`, a)))
	_, _, body = post(t, s, call("check", fmt.Sprintf(`[%q]`, a)))
	if gjson.Get(body, "error.code").Int() != CodeAccessDenied {
		t.Fatalf("check after logout: %s", body)
	}
	_, _, body = post(t, s, call("check", fmt.Sprintf(`[%q]`, b)))
	if gjson.Get(body, "result.id").String() != "user-1" {
		t.Fatalf("other session lost: %s", body)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	s := New(Options{})
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(m, "/", nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
			t.Errorf("%s: status %d, Allow %q", m, rec.Code, rec.Header().Get("Allow"))
		}
	}
	if len(s.Requests()) != 0 || len(s.Calls()) != 0 {
		t.Fatal("non-POST recorded")
	}
}

func TestStateful(t *testing.T) {
	s := New(Options{Users: []User{testUser}})
	sess := login(t, s)
	_, _, body := post(t, s, call("Otys.Services.CandidateService.add", fmt.Sprintf(`[%q,{"firstName":"Bob","uid":"ignored"}]`, sess)))
	uid := gjson.Get(body, "result").String()
	_, _, body = post(t, s, call("CandidateService.update", fmt.Sprintf(`[%q,%q,{"lastName":"Builder"}]`, sess, uid)))
	if gjson.Get(body, "result").Raw != "true" {
		t.Fatal(body)
	}
	_, _, body = post(t, s, call("Otys.Services.CandidateService.getDetail", fmt.Sprintf(`[%q,%q]`, sess, uid)))
	want := fmt.Sprintf(`{"firstName":"Bob","lastName":"Builder","token":"tok-%s-secret","uid":%q}`, uid, uid)
	if got := gjson.Get(body, "result").Raw; got != want {
		t.Fatalf("getDetail = %s, want %s", got, want)
	}
	if rec, ok := s.Candidate(uid); !ok || gjson.GetBytes(rec, "token").Exists() || gjson.GetBytes(rec, "lastName").String() != "Builder" {
		t.Fatalf("Candidate() = %s %v", rec, ok)
	}
	post(t, s, call("VacancyService.update", fmt.Sprintf(`[%q,"vac-1",{"title":"Rust dev"}]`, sess)))
	if rec, _ := s.Vacancy("vac-1"); gjson.GetBytes(rec, "title").String() != "Rust dev" {
		t.Fatalf("Vacancy() = %s", rec)
	}

	s.Reset()
	if len(s.Requests()) != 0 || len(s.Calls()) != 0 {
		t.Fatal("Reset kept recordings")
	}
	if _, ok := s.Candidate(uid); ok {
		t.Fatal("Reset kept added candidate")
	}
	if rec, _ := s.Vacancy("vac-1"); gjson.GetBytes(rec, "title").String() != "Go developer" {
		t.Fatalf("Reset kept vacancy change: %s", rec)
	}
	_, _, body = post(t, s, call("check", fmt.Sprintf(`[%q]`, sess)))
	if gjson.Get(body, "error.code").Int() != CodeAccessDenied {
		t.Fatalf("Reset kept session: %s", body)
	}
}

func TestShuffleBatch(t *testing.T) {
	var batch []string
	for i := 1; i <= 6; i++ {
		batch = append(batch, fmt.Sprintf(`{"jsonrpc":"2.0","method":"echo","params":[%d],"id":%d}`, i, i))
	}
	batch = append(batch, `{"jsonrpc":"2.0","method":"echo","params":[0]}`) // notification
	body := "[" + strings.Join(batch, ",") + "]"

	ids := func(resp string) []int64 {
		var out []int64
		for _, r := range gjson.Parse(resp).Array() {
			id := r.Get("id").Int()
			if r.Get("result.0").Int() != id {
				t.Fatalf("result not paired with id: %s", r.Raw)
			}
			out = append(out, id)
		}
		return out
	}

	plain := New(Options{})
	_, _, resp := post(t, plain, body)
	if got := fmt.Sprint(ids(resp)); got != "[1 2 3 4 5 6]" {
		t.Fatalf("unshuffled order %s", got)
	}

	s := New(Options{ShuffleBatch: true})
	_, _, resp = post(t, s, body)
	got := ids(resp)
	if len(got) != 6 {
		t.Fatalf("answered %d, want 6: %s", len(got), resp)
	}
	seen := map[int64]bool{}
	inOrder := true
	for i, id := range got {
		seen[id] = true
		if id != int64(i+1) {
			inOrder = false
		}
	}
	if len(seen) != 6 {
		t.Fatalf("ids not all answered: %v", got)
	}
	if inOrder {
		t.Fatalf("batch not shuffled: %v", got)
	}
	// Calls are executed in request order regardless of the answer order.
	if c := s.Calls(); len(c) != 7 {
		t.Fatalf("calls %v", c)
	}
	// Two elements: the order must still differ.
	s2 := New(Options{ShuffleBatch: true})
	for range 5 {
		_, _, resp = post(t, s2, `[{"jsonrpc":"2.0","method":"echo","params":[1],"id":1},{"jsonrpc":"2.0","method":"echo","params":[2],"id":2}]`)
		if got := fmt.Sprint(ids(resp)); got != "[2 1]" {
			t.Fatalf("two-element batch order %s", got)
		}
	}
}

func TestNestedWrapMulti(t *testing.T) {
	s := New(Options{Users: []User{testUser}})
	sess := login(t, s)
	inner := fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.MultiService.execute","params":[[`+
		`{"method":"Otys.Services.CandidateService.update","args":[%q,"cand-1",{"email":"n@x"}]},`+
		`{"method":"Otys.Services.CandidateService.getDetail","args":[%q,"cand-1"]},`+
		`{"method":"Otys.Services.LanguageService.wrapRequest","args":["de",{"method":"fail","params":[]}]},`+
		`{"method":"system.multicall","args":[[{"methodName":"Otys.Services.VacancyService.getDetail","params":[%q,"vac-1"]}]]}`+
		`]],"id":9}`, sess, sess, sess)
	_, _, body := post(t, s, call("Otys.Services.LanguageService.wrapRequest", `["en",`+inner+`]`))
	r := gjson.Get(body, "result")
	checks := map[string]string{
		"#":                "4",
		"0":                `{"status":"success","data":true}`,
		"1.status":         `"success"`,
		"1.data.email":     `"n@x"`,
		"1.data.token":     `"tok-cand-1-secret"`,
		"2":                `{"status":"error","message":"failure on purpose"}`,
		"3.status":         `"success"`,
		"3.data.0.0.title": `"Go developer"`,
	}
	for p, want := range checks {
		if got := r.Get(p).Raw; got != want {
			t.Errorf("result.%s = %s, want %s\nbody %s", p, got, want, body)
		}
	}
	wantCalls := []string{
		"login",
		"Otys.Services.LanguageService.wrapRequest",
		"Otys.Services.MultiService.execute",
		"Otys.Services.CandidateService.update",
		"Otys.Services.CandidateService.getDetail",
		"Otys.Services.LanguageService.wrapRequest",
		"fail",
		"system.multicall",
		"Otys.Services.VacancyService.getDetail",
	}
	if got := s.Calls(); fmt.Sprint(got) != fmt.Sprint(wantCalls) {
		t.Fatalf("Calls() =\n%v\nwant\n%v", got, wantCalls)
	}
}

func TestNestingDepthLimited(t *testing.T) {
	s := New(Options{})
	req := `{"method":"echo","params":[1]}`
	for range maxDepth + 5 {
		req = `{"method":"LanguageService.wrapRequest","params":["en",` + req + `]}`
	}
	_, _, body := post(t, s, call("LanguageService.wrapRequest", `["en",`+req+`]`))
	if gjson.Get(body, "error.code").Int() != CodeInvalidRequest {
		t.Fatalf("deep nesting: %s", body)
	}
}

func TestRequestsRecorded(t *testing.T) {
	s := New(Options{})
	bodies := []string{call("echo", `[1]`), `garbage`, `[{"jsonrpc":"2.0","method":"echo"}]`}
	for _, b := range bodies {
		post(t, s, b)
	}
	got := s.Requests()
	if len(got) != len(bodies) {
		t.Fatalf("%d requests", len(got))
	}
	for i := range bodies {
		if string(got[i]) != bodies[i] {
			t.Errorf("request %d = %q", i, got[i])
		}
	}
	got[0][0] = 'X'
	if s.Requests()[0][0] != '{' {
		t.Fatal("Requests() not a copy")
	}
	if c := s.Calls(); fmt.Sprint(c) != "[echo echo]" {
		t.Fatalf("Calls() = %v", c)
	}
}

func TestDelay(t *testing.T) {
	s := New(Options{Delay: 300 * time.Millisecond})
	ts := httptest.NewServer(s)
	defer ts.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL, strings.NewReader(call("echo", `[1]`)))
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}

	start := time.Now()
	resp, err := http.Post(ts.URL, "application/json", strings.NewReader(call("echo", `[2]`)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("answered after %v", d)
	}
	if gjson.GetBytes(b, "result").Raw != "[2]" {
		t.Fatalf("body %s", b)
	}
}

func TestConcurrent(t *testing.T) {
	s := New(Options{Users: []User{testUser}})
	sess := login(t, s)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(call("CandidateService.add", fmt.Sprintf(`[%q,{"n":%d}]`, sess, i)))))
			if !strings.HasPrefix(gjson.Get(rec.Body.String(), "result").String(), "cand-") {
				t.Errorf("add: %s", rec.Body.String())
			}
			_ = s.Calls()
			_ = s.Requests()
		}()
	}
	wg.Wait()
	if n := len(s.Calls()); n != 21 {
		t.Fatalf("%d calls", n)
	}
	if _, ok := s.Candidate("cand-21"); !ok {
		t.Fatal("missing cand-21")
	}
}
