package caddymodule_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/sidehook/sidehook/internal/fakeows"
)

// countCalls counts the upstream calls of method the fake OWS executed.
func countCalls(api *fakeows.Server, method string) int {
	n := 0
	for _, c := range api.Calls() {
		if c == method {
			n++
		}
	}
	return n
}

// A session that logged out through sidehook manages nothing from the very next call: its cached identity is
// evicted when the upstream answers the logout with a success, whether the logout came alone, in a batch or
// inside MultiService.execute.
func TestLogoutEndsManagementAtOnce(t *testing.T) {
	h, _ := newMgHarness(t, 0)
	h.load(mgConfig)
	cases := []struct {
		name   string
		logout func(sess string)
	}{
		{"alone", func(sess string) {
			if r := mgResult(t, mgCall(t, h.port, "logout", sess), "logout"); r.Raw != "true" {
				t.Fatalf("logout answered %s", r.Raw)
			}
		}},
		{"in a batch", func(sess string) {
			_, resp := h.post(fmt.Sprintf(`[
				{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.getDetail","params":[%[1]q,"cand-1"],"id":1},
				{"jsonrpc":"2.0","method":"logout","params":[%[1]q],"id":2}
			]`, sess))
			if !gjson.Get(resp, `#(id==2).result`).Bool() {
				t.Fatalf("batch answer: %s", resp)
			}
		}},
		{"in MultiService.execute", func(sess string) {
			r := mgCall(t, h.port, "Otys.Services.MultiService.execute", []any{
				map[string]any{"method": "Otys.Services.CandidateService.getDetail", "args": []any{sess, "cand-1"}},
				map[string]any{"method": "logout", "args": []any{sess}},
			})
			if e := mgResult(t, r, "MultiService.execute").Get("1"); e.Get("status").String() != "success" {
				t.Fatalf("multicall answer: %s", r.Raw)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sess := h.login()
			mgAdd(t, h, sess, "CandidateService.update", h.recv.srv.URL+"/before-logout", nil) // caches the identity
			c.logout(sess)
			add := map[string]any{"serviceCall": "VacancyService.update", "webhookUrl": h.recv.srv.URL + "/after-logout"}
			if r := mgCall(t, h.port, mgService+"add", sess, add); r.Get("error").Raw != mgDenied {
				t.Fatalf("add right after logout: %s, want %s", r.Raw, mgDenied)
			}
			if r := mgCall(t, h.port, mgService+"getList", sess); r.Get("error").Raw != mgDenied {
				t.Fatalf("getList right after logout: %s, want %s", r.Raw, mgDenied)
			}
		})
	}
}

// logoutUpstream is the fake OWS behind a front that answers `logout` with a JSON-RPC error (the session stays
// logged in) and executes `Auth.signOut` as the fake's `logout`.
func logoutUpstream(api *fakeows.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch gjson.GetBytes(body, "method").String() {
		case "logout":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32000,"message":"logout refused"}}`, gjson.GetBytes(body, "id").Raw)
			return
		case "Auth.signOut":
			body = bytes.Replace(body, []byte(`"Auth.signOut"`), []byte(`"logout"`), 1)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		api.ServeHTTP(w, r)
	})
}

// A logout the upstream answers with an error ends nothing: the cached identity is kept and the next
// management call is answered without asking the upstream again.
func TestFailedLogoutKeepsTheCachedSession(t *testing.T) {
	api := fakeows.New(fakeows.Options{Users: mgUsers})
	h := newHarness(t, harnessOptions{upstream: logoutUpstream(api)})
	h.load(mgConfig)
	sess := h.login()
	mgResult(t, mgCall(t, h.port, mgService+"getList", sess), "getList before logout")
	checks := countCalls(api, "check")
	if r := mgCall(t, h.port, "logout", sess); r.Get("error.message").String() != "logout refused" {
		t.Fatalf("logout answered %s, want the upstream's error", r.Raw)
	}
	mgResult(t, mgCall(t, h.port, mgService+"getList", sess), "getList after the failed logout")
	if n := countCalls(api, "check"); n != checks {
		t.Fatalf("the failed logout evicted the session: %d more upstream check calls", n-checks)
	}
}

// The logout calls are configurable inside the resolve identity; the preset's still count next to them.
func TestConfiguredLogoutPatternEvicts(t *testing.T) {
	api := fakeows.New(fakeows.Options{Users: mgUsers})
	h := newHarness(t, harnessOptions{upstream: logoutUpstream(api)})
	h.load(mgConfig + `
		identity {
			resolve check {
				client clientId
				user id
				logout Auth.signOut
			}
		}`)
	sess := h.login()
	mgResult(t, mgCall(t, h.port, mgService+"getList", sess), "getList before logout")
	if r := mgResult(t, mgCall(t, h.port, "Auth.signOut", sess), "Auth.signOut"); r.Raw != "true" {
		t.Fatalf("Auth.signOut answered %s", r.Raw)
	}
	if r := mgCall(t, h.port, mgService+"getList", sess); r.Get("error").Raw != mgDenied {
		t.Fatalf("getList right after Auth.signOut: %s, want %s", r.Raw, mgDenied)
	}
}
