package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// A subscribed call becomes exactly one signed delivery carrying the documented fields, with the session nulled and
// the result the client got.
func TestSubscribedCallDeliversOneSignedWebhook(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(`
		preset otys
		subscribe CandidateService.update {recv}/hooks/candidates {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	sess := h.login()

	status, resp := h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[%q,"cand-1",{"Person":{"firstName":"Ada"}}],"id":7}`, sess))
	if status != http.StatusOK || !gjson.Get(resp, "result").Exists() {
		t.Fatalf("call failed: %d %s", status, resp)
	}
	got := h.recv.waitCount(t, 1)
	h.settled(1)
	if n := len(h.recv.deliveries()); n != 1 {
		t.Fatalf("want exactly 1 delivery, got %d", n)
	}
	d := got[0]
	verify(t, h.secret, d)
	if d.Path != "/hooks/candidates" {
		t.Errorf("path %q", d.Path)
	}
	for _, hdr := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if d.Header.Get(hdr) == "" {
			t.Errorf("header %s missing", hdr)
		}
	}
	if ua := d.Header.Get("User-Agent"); !strings.HasPrefix(ua, "sidehook/") {
		t.Errorf("User-Agent %q", ua)
	}
	if ct := d.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}

	body := gjson.ParseBytes(d.Body)
	var keys []string
	body.ForEach(func(k, _ gjson.Result) bool { keys = append(keys, k.String()); return true })
	if want := []string{"id", "time", "event", "webhook", "user", "request", "result"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("body fields %v, want %v", keys, want)
	}
	checks := map[string]string{
		"id":              d.Header.Get("webhook-id"),
		"event":           "CandidateService.update",
		"user.clientId":   "42",
		"user.internalId": "7",
		"request.method":  "Otys.Services.CandidateService.update",
		"request.args.1":  "cand-1",
		"webhook.url":     h.recv.srv.URL + "/hooks/candidates",
	}
	for path, want := range checks {
		if got := body.Get(path).String(); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if a0 := body.Get("request.args.0"); a0.Type != gjson.Null {
		t.Errorf("request.args[0] must be null (the session), got %s", a0.Raw)
	}
	if want := gjson.Get(resp, "result").Raw; body.Get("result").Raw != want {
		t.Errorf("result %s, want what the client got: %s", body.Get("result").Raw, want)
	}
	if hits := grepDir(t, h.queueDir(), sess); len(hits) > 0 {
		t.Errorf("the session appears under queue_dir: %v", hits)
	}
	if strings.Contains(string(d.Body), sess) {
		t.Errorf("the session appears in the delivery")
	}
}

// Calls that are not subscribed, that fail, or that are never_fire produce nothing.
func TestOnlySubscribedSuccessfulCallsFire(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(`
		session_param 0
		never_fire login
		subscribe CandidateService.update {recv}/update { 
			secret {secret}
		}
		subscribe login {recv}/login {
			secret {secret}
		}
		subscribe fail {recv}/fail {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	sess := h.login()                                                                                                                // subscribed, but never_fire
	h.post(`{"jsonrpc":"2.0","method":"fail","params":[],"id":2}`)                                                                   // subscribed, but fails
	h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.getDetail","params":[%q,"cand-1"],"id":3}`, sess)) // not subscribed
	h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[%q,"nope",{}],"id":4}`, sess))   // subscribed, fails
	h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[%q,"cand-1",{}]}`, sess))        // a notification: no result to pair
	// the marker: the only call that fires
	h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[%q,"cand-1",{"a":1}],"id":5}`, sess))
	h.recv.waitCount(t, 1)
	h.settled(1)
	got := h.recv.deliveries()
	if len(got) != 1 || got[0].Path != "/update" || gjson.GetBytes(got[0].Body, "request.args.2.a").Int() != 1 {
		for _, d := range got {
			t.Logf("delivered %s: %s", d.Path, d.Body)
		}
		t.Fatalf("want only the marker delivered, got %d deliveries", len(got))
	}
}

// In a batch answered in another order, each delivery carries its own call's result.
func TestBatchPairsEachResultWithItsCall(t *testing.T) {
	h := newHarness(t, harnessOptions{shuffle: true})
	h.load(`
		session_param 0
		subscribe CandidateService.* {recv}/c {
			secret {secret}
		}
		subscribe VacancyService.getDetail {recv}/v {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	sess := h.login()
	batch := fmt.Sprintf(`[
		{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[%[1]q,"cand-1",{"x":1}],"id":"a"},
		{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.getDetail","params":[%[1]q,"cand-1"],"id":2},
		{"jsonrpc":"2.0","method":"Otys.Services.VacancyService.getDetail","params":[%[1]q,"vac-1"],"id":3},
		{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[%[1]q,"missing",{}],"id":4}
	]`, sess)
	_, resp := h.post(batch)
	answers := map[string]string{} // id -> result
	gjson.Parse(resp).ForEach(func(_, v gjson.Result) bool {
		answers[v.Get("id").Raw] = v.Get("result").Raw
		return true
	})
	if first := gjson.Get(resp, "0.id").Raw; first == `"a"` {
		t.Fatalf("the fake upstream should have shuffled the batch: %s", resp)
	}
	got := h.recv.waitCount(t, 3)
	h.settled(3)
	byMethod := map[string]string{}
	for _, d := range got {
		body := gjson.ParseBytes(d.Body)
		verify(t, h.secret, d)
		key := body.Get("request.method").String() + " " + body.Get("request.args.1").String()
		byMethod[key] = body.Get("result").Raw
	}
	// the record's token is blanked by the default redact_key list; everything else is the client's answer
	detail, _ := sjson.SetRaw(answers["2"], "token", "null")
	want := map[string]string{
		"Otys.Services.CandidateService.update cand-1":    answers[`"a"`],
		"Otys.Services.CandidateService.getDetail cand-1": detail,
		"Otys.Services.VacancyService.getDetail vac-1":    answers["3"],
	}
	if !reflect.DeepEqual(byMethod, want) {
		pretty, _ := json.MarshalIndent(byMethod, "", "  ")
		t.Fatalf("results not paired with their calls:\n%s\nwant %v", pretty, want)
	}
	if len(h.recv.deliveries()) != 3 {
		t.Fatalf("the failed call in the batch fired")
	}
}

// A receiver that fails twice then succeeds sees the same webhook-id three times.
func TestRetriesKeepTheWebhookID(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(`
		subscribe echo {recv}/flaky {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
			retry 50ms 50ms 50ms
		}`)
	h.recv.setRespond(func(n int, _ *http.Request) int {
		if n < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	h.post(`{"jsonrpc":"2.0","method":"echo","params":["hello"],"id":1}`)
	got := h.recv.waitCount(t, 3)
	h.settled(1)
	if len(h.recv.deliveries()) != 3 {
		t.Fatalf("want 3 attempts, got %d", len(h.recv.deliveries()))
	}
	id := got[0].Header.Get("webhook-id")
	for i, d := range got {
		verify(t, h.secret, d)
		if d.Header.Get("webhook-id") != id {
			t.Errorf("attempt %d has webhook-id %q, want %q", i+1, d.Header.Get("webhook-id"), id)
		}
	}
}
