package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// adminRetry posts the admin API's retry of one log item and returns the status and body.
func adminRetry(t *testing.T, id string) (int, string) {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("http://localhost:%d/sidehook/logs/%s/retry", adminPort, id), "application/json", nil)
	if err != nil {
		t.Fatalf("admin retry %s: %v", id, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// adminLog finds one log item in the admin API's /sidehook/logs by a predicate.
func adminLog(t *testing.T, match func(gjson.Result) bool) (gjson.Result, bool) {
	t.Helper()
	var items []json.RawMessage
	adminGet(t, "/sidehook/logs", &items)
	for _, raw := range items {
		if it := gjson.ParseBytes(raw); match(it) {
			return it, true
		}
	}
	return gjson.Result{}, false
}

// A static subscription is the operator's even when its client is a tenant's: the tenant's call fires it, but
// the tenant's getLogs never lists its items (the operator's URL token, request and response data) and its
// retry answers as for an unknown log id and re-delivers nothing. The admin API lists it and can retry it.
func TestStaticSubscriptionLogsAreOperatorOnly(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(mgConfig + `
		subscribe CandidateService.update {recv}/operator?token=operator-token {
			secret {secret}
			client 42
		}`)
	sess := h.login()
	mgAdd(t, h, sess, "VacancyService.update", h.recv.srv.URL+"/tenant", nil)
	mgFire(t, h, sess, 1) // fires the static subscription
	mgResult(t, mgCall(t, h.port, "Otys.Services.VacancyService.update", sess, "vac-1", map[string]any{"t": 1}), "VacancyService.update")
	h.settled(2)
	paths := map[string]bool{}
	for _, d := range h.recv.deliveries() {
		paths[d.Path] = true
	}
	if !paths["/operator"] || !paths["/tenant"] {
		t.Fatalf("deliveries to %v, want /operator (the static subscription fired by the tenant's call) and /tenant", paths)
	}

	logs := mgResult(t, mgCall(t, h.port, mgService+"getLogs", sess), "getLogs")
	if items := logs.Array(); len(items) != 1 || !strings.HasSuffix(items[0].Get("webhook_url").String(), "/tenant") {
		t.Fatalf("the tenant's getLogs lists %s, want only its own /tenant item", logs.Raw)
	}
	if strings.Contains(logs.Raw, "operator-token") {
		t.Fatalf("the tenant's getLogs shows the operator's token: %s", logs.Raw)
	}

	static, ok := adminLog(t, func(it gjson.Result) bool { return strings.Contains(it.Get("webhook_url").String(), "/operator") })
	if !ok {
		t.Fatal("the admin API does not list the static subscription's log item")
	}
	id := static.Get("id").String()
	unknown := mgCall(t, h.port, mgService+"retry", sess, "msg_unknown").Get("error").Raw
	got := mgCall(t, h.port, mgService+"retry", sess, id).Get("error").Raw
	if want := strings.ReplaceAll(unknown, "msg_unknown", id); got != want {
		t.Fatalf("the tenant's retry of the static item answered %s, want as for an unknown id: %s", got, want)
	}
	if s := h.stats(); s.Depth != 0 || s.InFlight != 0 {
		t.Fatalf("the refused retry queued a delivery: %+v", s)
	}
	if again, _ := adminLog(t, func(it gjson.Result) bool { return it.Get("id").String() == id }); again.Get("status").String() != "delivered" || again.Get("attempts").Int() != 1 {
		t.Fatalf("the refused retry changed the item: %s", again.Raw)
	}

	if status, body := adminRetry(t, id); status != http.StatusOK {
		t.Fatalf("admin retry: %d %s", status, body)
	}
	h.settled(3)
	if got := h.recv.deliveries(); len(got) != 3 || got[2].Path != "/operator" {
		t.Fatalf("after the admin retry: %d deliveries, want 3 with the last to /operator", len(got))
	}
}
