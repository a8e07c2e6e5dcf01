package caddymodule_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// OTYS Go! and the OTYS WordPress plugin send their calls nested: through Otys.Services.MultiService.execute,
// sometimes wrapped in Otys.Services.LanguageService.wrapRequest. These tests replay such traffic through
// Caddy with `preset otys` and check what the upstream, the client and the webhook receiver each get.

const (
	otysMulti   = "Otys.Services.MultiService.execute"
	otysWrapper = "Otys.Services.LanguageService.wrapRequest"
	otysPrefix  = "Otys.Services."
)

// otysEntry is one inner call of a MultiService.execute: {"method","args"}.
func otysEntry(method, args string) string {
	return fmt.Sprintf(`{"method":%q,"args":%s}`, method, args)
}

// otysMulticall is a whole MultiService.execute request with the given entries.
func otysMulticall(id int, entries ...string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":[[%s]],"id":%d}`, otysMulti, strings.Join(entries, ","), id)
}

// otysUpstreamSaw reports the bodies the fake OWS received that contain needle.
func (h *harness) otysUpstreamSaw(needle string) []string {
	var hits []string
	for _, b := range h.api.Requests() {
		if strings.Contains(string(b), needle) {
			hits = append(hits, string(b))
		}
	}
	return hits
}

// otysDeliveryWith returns the one delivery whose JSON path equals want, failing when there is not exactly one.
func otysDeliveryWith(t *testing.T, got []delivery, path, want string) gjson.Result {
	t.Helper()
	var found []gjson.Result
	for _, d := range got {
		if b := gjson.ParseBytes(d.Body); b.Get(path).String() == want {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		for _, d := range got {
			t.Logf("delivered %s: %s", d.Path, d.Body)
		}
		t.Fatalf("want exactly one delivery with %s = %q, got %d", path, want, len(found))
	}
	return found[0]
}

// The WordPress plugin's flow: it registers its webhooks with WebhooksService.add sub-calls of a
// MultiService.execute (klantGlobal as the string "true"), which sidehook answers without the upstream; then a
// VacancyService.update inside a MultiService.execute reaches the plugin's /webhooks entry point with exactly
// the fields the plugin reads.
func TestOTYSWordPressPluginFlow(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(`
		preset otys
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	sess := h.login()
	hook := h.recv.srv.URL + "/webhooks"
	add := func(serviceCall string) string {
		return otysEntry(otysPrefix+"WebhooksService.add", fmt.Sprintf(`[%q,{"serviceCall":%q,"webhookUrl":%q,"klantGlobal":"true"}]`, sess, serviceCall, hook))
	}
	status, resp := h.post(otysMulticall(1, add("VacancyService.update"), add("VacancyService.add")))
	if status != http.StatusOK {
		t.Fatalf("registration: %d %s", status, resp)
	}
	entries := gjson.Get(resp, "result").Array()
	if len(entries) != 2 || gjson.Get(resp, "id").Int() != 1 {
		t.Fatalf("registration answer: %s", resp)
	}
	for i, e := range entries {
		if e.Get("status").String() != "success" || e.Get("data").Type != gjson.String || e.Get("data").String() == "" {
			t.Fatalf("entry %d is not a success with a uid: %s", i, e.Raw)
		}
	}
	if hits := h.otysUpstreamSaw("WebhooksService"); len(hits) > 0 {
		t.Fatalf("the upstream received management calls: %v", hits)
	}
	if hits := h.otysUpstreamSaw("MultiService"); len(hits) > 0 {
		t.Fatalf("a multicall made only of management calls reached the upstream: %v", hits)
	}

	// The list shows both, klantGlobal read from the string "true"; the secret lets the plugin verify.
	_, list := h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.WebhooksService.getList","params":[%q],"id":2}`, sess))
	subs := gjson.Get(list, "result").Array()
	if len(subs) != 2 {
		t.Fatalf("getList: %s", list)
	}
	var secret string
	for _, s := range subs {
		if s.Get("klantGlobal").Type != gjson.True || s.Get("klantid").String() != testUser.ClientID || s.Get("webhookUrl").String() != hook {
			t.Errorf("subscription as listed: %s", s.Raw)
		}
		if s.Get("serviceCall").String() == "VacancyService.update" {
			secret = s.Get("secret").String()
		}
	}

	status, resp = h.post(otysMulticall(3,
		otysEntry(otysPrefix+"VacancyService.update", fmt.Sprintf(`[%q,"vac-1",{"title":"Senior Go developer"}]`, sess)),
		otysEntry(otysPrefix+"VacancyService.getDetail", fmt.Sprintf(`[%q,"vac-1"]`, sess)),
	))
	if status != http.StatusOK || gjson.Get(resp, "result.1.data.title").String() != "Senior Go developer" {
		t.Fatalf("vacancy update: %d %s", status, resp)
	}
	got := h.recv.waitCount(t, 1)
	h.settled(1)
	if n := len(h.recv.deliveries()); n != 1 {
		t.Fatalf("want 1 delivery, got %d", n)
	}
	d := got[0]
	verify(t, secret, d)
	if d.Path != "/webhooks" {
		t.Errorf("delivered to %q, want the plugin's /webhooks", d.Path)
	}
	body := gjson.ParseBytes(d.Body)
	if m := body.Get("request.method").String(); m != "Otys.Services.VacancyService.update" {
		t.Errorf("request.method = %q", m)
	}
	if a1 := body.Get("request.args.1").String(); a1 != "vac-1" {
		t.Errorf("request.args[1] = %q, want the vacancy uid", a1)
	}
	if a0 := body.Get("request.args.0"); !a0.Exists() || a0.Type != gjson.Null {
		t.Errorf("request.args[0] = %s, want null (the session)", a0.Raw)
	}
	if r := body.Get("result").Raw; r != `{"status":"success","data":true}` {
		t.Errorf("result = %s, want the sub-result object", r)
	}
	if e := body.Get("event").String(); e != "VacancyService.update" {
		t.Errorf("event = %q", e)
	}
	if strings.Contains(string(d.Body), sess) {
		t.Errorf("the session is in the delivery: %s", d.Body)
	}
}

// Management calls mixed into a multicall with upstream calls: the upstream gets the multicall without them,
// the client every answer in its original position, and the upstream calls still fire.
func TestOTYSManagementInsideMulticallIsSplitAndMerged(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(`
		preset otys
		subscribe CandidateService.update {recv}/cand {
			secret {secret}
			client 42
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	sess := h.login()
	status, resp := h.post(otysMulticall(9,
		otysEntry(otysPrefix+"CandidateService.getDetail", fmt.Sprintf(`[%q,"cand-1"]`, sess)),
		otysEntry(otysPrefix+"WebhooksService.getList", fmt.Sprintf(`[%q]`, sess)),
		otysEntry(otysPrefix+"CandidateService.update", fmt.Sprintf(`[%q,"cand-1",{"firstName":"Augusta"}]`, sess)),
		otysEntry(otysPrefix+"WebhooksService.delete", fmt.Sprintf(`[%q,"no-such-uid"]`, sess)),
	))
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, resp)
	}
	entries := gjson.Get(resp, "result").Array()
	if len(entries) != 4 {
		t.Fatalf("want 4 entries in request order, got %s", resp)
	}
	checks := []struct{ path, want string }{
		{"0.status", "success"}, {"0.data.uid", "cand-1"},
		{"1.status", "success"},
		{"2.status", "success"}, {"2.data", "true"},
		{"3.status", "error"},
	}
	for _, c := range checks {
		if got := gjson.Get(gjson.Get(resp, "result").Raw, c.path).String(); got != c.want {
			t.Errorf("result.%s = %q, want %q (response %s)", c.path, got, c.want, resp)
		}
	}
	if !entries[1].Get("data").IsArray() {
		t.Errorf("getList entry carries no list: %s", entries[1].Raw)
	}
	multis := h.otysUpstreamSaw(otysMulti)
	if len(multis) != 1 {
		t.Fatalf("want the multicall upstream once, got %v", multis)
	}
	sent := gjson.Get(multis[0], "params.0").Array()
	if len(sent) != 2 || sent[0].Get("method").String() != otysPrefix+"CandidateService.getDetail" ||
		sent[1].Get("method").String() != otysPrefix+"CandidateService.update" || strings.Contains(multis[0], "WebhooksService") {
		t.Errorf("the upstream got %s, want only the two candidate calls", multis[0])
	}

	// Management only, wrapped around a multicall: answered here in the wrapper's shape, never forwarded.
	before := len(h.api.Requests())
	status, resp = h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":["en",%s],"id":10}`, otysWrapper,
		otysMulticall(11, otysEntry(otysPrefix+"WebhooksService.getList", fmt.Sprintf(`[%q]`, sess)))))
	if status != http.StatusOK || gjson.Get(resp, "result.0.status").String() != "success" || !gjson.Get(resp, "result.0.data").IsArray() {
		t.Errorf("wrapped management multicall: %d %s", status, resp)
	}
	if after := h.api.Requests(); len(after) != before {
		t.Errorf("a wrapped multicall of management calls reached the upstream: %s", after[before:])
	}

	got := h.recv.waitCount(t, 1)
	h.settled(1)
	b := gjson.ParseBytes(got[0].Body)
	if b.Get("request.method").String() != otysPrefix+"CandidateService.update" || b.Get("result").Raw != `{"status":"success","data":true}` ||
		b.Get("request.args.2.firstName").String() != "Augusta" {
		t.Errorf("delivery: %s", got[0].Body)
	}
}

// A wrapped multicall with three inner calls, one of them failing: two deliveries, each paired with its own
// result entry; the failed one does not fire.
func TestOTYSWrappedMulticallFiresEachInnerCall(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(`
		preset otys
		subscribe *.getDetail {recv}/detail {
			secret {secret}
			client 42
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	sess := h.login()
	inner := otysMulticall(77,
		otysEntry(otysPrefix+"CandidateService.getDetail", fmt.Sprintf(`[%q,"cand-1"]`, sess)),
		otysEntry(otysPrefix+"CandidateService.getDetail", fmt.Sprintf(`[%q,"cand-404"]`, sess)),
		otysEntry(otysPrefix+"VacancyService.getDetail", fmt.Sprintf(`[%q,"vac-1"]`, sess)),
	)
	status, resp := h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":["en",%s],"id":5}`, otysWrapper, inner))
	if status != http.StatusOK || gjson.Get(resp, "result.1.status").String() != "error" || len(gjson.Get(resp, "result").Array()) != 3 {
		t.Fatalf("wrapped multicall: %d %s", status, resp)
	}
	got := h.recv.waitCount(t, 2)
	h.settled(2)
	if n := len(h.recv.deliveries()); n != 2 {
		t.Fatalf("want 2 deliveries, got %d", n)
	}
	for _, d := range got {
		verify(t, h.secret, d)
	}
	cand := otysDeliveryWith(t, got, "request.args.1", "cand-1")
	vac := otysDeliveryWith(t, got, "request.args.1", "vac-1")
	if cand.Get("request.method").String() != otysPrefix+"CandidateService.getDetail" || cand.Get("result.status").String() != "success" ||
		cand.Get("result.data.uid").String() != "cand-1" || cand.Get("result.data.lastName").String() != "Lovelace" {
		t.Errorf("candidate delivery: %s", cand.Raw)
	}
	if vac.Get("request.method").String() != otysPrefix+"VacancyService.getDetail" || vac.Get("result.data.uid").String() != "vac-1" ||
		vac.Get("result.data.title").String() != "Go developer" || vac.Get("event").String() != "VacancyService.getDetail" {
		t.Errorf("vacancy delivery: %s", vac.Raw)
	}
	for _, b := range []gjson.Result{cand, vac} {
		if b.Get("request.args.0").Type != gjson.Null {
			t.Errorf("the session is not nulled in an inner call: %s", b.Get("request").Raw)
		}
	}
	if tok := cand.Get("result.data.token"); tok.Type != gjson.Null {
		t.Errorf("the token in the result is not blanked: %s", tok.Raw)
	}
}

// system.multicall (the xmlrpc shape) the same way, and multicalls of both shapes inside a batch whose answers
// come back in another order: every inner call pairs with its own entry.
func TestXMLRPCMulticallAndMulticallsInsideABatch(t *testing.T) {
	h := newHarness(t, harnessOptions{shuffle: true})
	h.load(`
		preset otys
		multicall system.multicall xmlrpc
		subscribe *.getDetail {recv}/detail {
			secret {secret}
			client 42
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	sess := h.login()
	xmlEntry := func(method, uid string) string {
		return fmt.Sprintf(`{"methodName":%q,"params":[%q,%q]}`, method, sess, uid)
	}
	xmlMulti := func(id int, entries ...string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","method":"system.multicall","params":[[%s]],"id":%d}`, strings.Join(entries, ","), id)
	}
	status, resp := h.post(xmlMulti(1,
		xmlEntry("CandidateService.getDetail", "cand-1"),
		xmlEntry("CandidateService.getDetail", "cand-404"),
		xmlEntry("VacancyService.getDetail", "vac-1"),
	))
	if status != http.StatusOK || gjson.Get(resp, "result.1.faultCode").Int() == 0 {
		t.Fatalf("system.multicall: %d %s", status, resp)
	}
	got := h.recv.waitCount(t, 2)
	h.settled(2)
	if n := len(h.recv.deliveries()); n != 2 {
		t.Fatalf("want 2 deliveries, got %d", n)
	}
	cand := otysDeliveryWith(t, got, "request.args.1", "cand-1")
	vac := otysDeliveryWith(t, got, "request.args.1", "vac-1")
	// An xmlrpc entry's result is [value]: the delivery carries the entry, as for OTYS's {"status","data"}.
	if cand.Get("request.method").String() != "CandidateService.getDetail" || cand.Get("result.0.uid").String() != "cand-1" {
		t.Errorf("candidate delivery: %s", cand.Raw)
	}
	if vac.Get("result.0.title").String() != "Go developer" || vac.Get("request.args.0").Type != gjson.Null {
		t.Errorf("vacancy delivery: %s", vac.Raw)
	}

	// A batch: an OTYS multicall, a plain call and an xmlrpc multicall; the fake answers the batch shuffled.
	batch := "[" + strings.Join([]string{
		otysMulticall(10,
			otysEntry(otysPrefix+"CandidateService.getDetail", fmt.Sprintf(`[%q,"cand-1"]`, sess)),
			otysEntry("fail", "[]")),
		fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.VacancyService.getDetail","params":[%q,"vac-1"],"id":11}`, sess),
		xmlMulti(12, xmlEntry("VacancyService.getDetail", "vac-404"), xmlEntry("CandidateService.getDetail", "cand-1")),
	}, ",") + "]"
	status, resp = h.post(batch)
	if status != http.StatusOK || len(gjson.Parse(resp).Array()) != 3 {
		t.Fatalf("batch: %d %s", status, resp)
	}
	h.recv.waitCount(t, 5)
	h.settled(5)
	all := h.recv.deliveries()
	if len(all) != 5 {
		t.Fatalf("want 5 deliveries in all, got %d", len(all))
	}
	var fromBatch []delivery
	for _, d := range all[2:] {
		fromBatch = append(fromBatch, d)
	}
	otysCand := otysDeliveryWith(t, fromBatch, "result.data.uid", "cand-1")
	plain := otysDeliveryWith(t, fromBatch, "result.uid", "vac-1")
	xmlCand := otysDeliveryWith(t, fromBatch, "result.0.uid", "cand-1")
	if otysCand.Get("request.method").String() != otysPrefix+"CandidateService.getDetail" || otysCand.Get("result.status").String() != "success" {
		t.Errorf("OTYS inner call in a batch: %s", otysCand.Raw)
	}
	if plain.Get("request.method").String() != otysPrefix+"VacancyService.getDetail" || plain.Get("request.args.1").String() != "vac-1" {
		t.Errorf("plain call in a batch: %s", plain.Raw)
	}
	if xmlCand.Get("request.method").String() != "CandidateService.getDetail" || xmlCand.Get("request.args.1").String() != "cand-1" {
		t.Errorf("xmlrpc inner call in a batch: %s", xmlCand.Raw)
	}
}

// fire_on_error: a failed inner call fires too, with "error" (its own failed entry) instead of "result"; a
// failed top-level call carries the JSON-RPC error object.
func TestFireOnErrorCarriesTheError(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(`
		preset otys
		fire_on_error
		subscribe CandidateService.getDetail {recv}/detail {
			secret {secret}
			client 42
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	sess := h.login()
	h.post(otysMulticall(1,
		otysEntry(otysPrefix+"CandidateService.getDetail", fmt.Sprintf(`[%q,"cand-1"]`, sess)),
		otysEntry(otysPrefix+"CandidateService.getDetail", fmt.Sprintf(`[%q,"cand-404"]`, sess)),
	))
	h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.getDetail","params":[%q,"cand-405"],"id":2}`, sess))
	got := h.recv.waitCount(t, 3)
	h.settled(3)
	if n := len(h.recv.deliveries()); n != 3 {
		t.Fatalf("want 3 deliveries, got %d", n)
	}
	ok := otysDeliveryWith(t, got, "request.args.1", "cand-1")
	if !ok.Get("result").Exists() || ok.Get("error").Exists() || ok.Get("result.status").String() != "success" {
		t.Errorf("the successful call: %s", ok.Raw)
	}
	inner := otysDeliveryWith(t, got, "request.args.1", "cand-404")
	if inner.Get("result").Exists() || inner.Get("error").Raw != `{"status":"error","message":"Candidate not found"}` {
		t.Errorf("the failed inner call must carry its failed entry as error: %s", inner.Raw)
	}
	top := otysDeliveryWith(t, got, "request.args.1", "cand-405")
	if top.Get("result").Exists() || top.Get("error.code").Int() != -32004 || top.Get("error.message").String() != "Candidate not found" {
		t.Errorf("the failed call must carry the JSON-RPC error: %s", top.Raw)
	}
}

// payload jsonrpc: the envelope, then the JSON-RPC request and response objects (redacted), for a plain call,
// an inner call and, with fire_on_error, a failed call.
func TestPayloadJSONRPC(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(`
		preset otys
		payload jsonrpc
		fire_on_error
		subscribe CandidateService.* {recv}/rpc {
			secret {secret}
			client 42
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	sess := h.login()
	h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[%q,"cand-1",{"password":"pw-in-args"}],"id":"u-1"}`, sess))
	h.post(otysMulticall(2, otysEntry(otysPrefix+"CandidateService.getDetail", fmt.Sprintf(`[%q,"cand-1"]`, sess))))
	h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.getDetail","params":[%q,"cand-404"],"id":3}`, sess))
	got := h.recv.waitCount(t, 3)
	h.settled(3)
	for _, d := range got {
		verify(t, h.secret, d)
		var keys []string
		gjson.ParseBytes(d.Body).ForEach(func(k, _ gjson.Result) bool { keys = append(keys, k.String()); return true })
		if strings.Join(keys, ",") != "id,time,event,webhook,user,request,response" {
			t.Errorf("body fields %v: %s", keys, d.Body)
		}
	}
	update := otysDeliveryWith(t, got, "request.id", "u-1")
	want := map[string]string{
		"request.jsonrpc": "2.0", "request.method": "Otys.Services.CandidateService.update", "request.params.1": "cand-1",
		"response.jsonrpc": "2.0", "response.result": "true", "response.id": "u-1", "user.clientId": "42",
	}
	for p, w := range want {
		if g := update.Get(p).String(); g != w {
			t.Errorf("%s = %q, want %q", p, g, w)
		}
	}
	if update.Get("request.params.0").Type != gjson.Null || update.Get("request.params.2.password").Type != gjson.Null {
		t.Errorf("request not redacted: %s", update.Get("request").Raw)
	}
	detail := otysDeliveryWith(t, got, "request.id", "2")
	if detail.Get("response.result.status").String() != "success" || detail.Get("response.result.data.uid").String() != "cand-1" ||
		detail.Get("response.result.data.token").Type != gjson.Null || detail.Get("response.id").Int() != 2 {
		t.Errorf("inner call: %s", detail.Raw)
	}
	failed := otysDeliveryWith(t, got, "request.id", "3")
	if failed.Get("response.result").Exists() || failed.Get("response.error.code").Int() != -32004 {
		t.Errorf("failed call: %s", failed.Raw)
	}
}

// The preset's `fanout one` fires only the user-specific subscription of a client's pair; a later `fanout all`
// wins over the preset, and both fire.
func TestPresetOTYSFanoutAllAfterThePresetWins(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines string
		want  []string
	}{
		{"preset alone: fanout one", "", []string{"/user"}},
		{"fanout all after the preset", "fanout all", []string{"/global", "/user"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			h.load(`
				preset otys
				` + tc.lines + `
				subscribe CandidateService.update {recv}/global {
					secret {secret}
					client 42
				}
				subscribe CandidateService.update {recv}/user {
					secret {secret}
					client 42
					user 7
				}
				delivery {
					allow_destination 127.0.0.1/32
				}`)
			sess := h.login()
			h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[%q,"cand-1",{}],"id":1}`, sess))
			h.recv.waitCount(t, len(tc.want))
			h.settled(uint64(len(tc.want)))
			var paths []string
			for _, d := range h.recv.deliveries() {
				paths = append(paths, d.Path)
			}
			slices.Sort(paths)
			if !slices.Equal(paths, tc.want) {
				t.Errorf("delivered to %v, want %v", paths, tc.want)
			}
		})
	}
}
