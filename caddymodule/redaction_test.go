package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// otysPostWithHeader is h.post with one extra request header.
func (h *harness) otysPostWithHeader(body, name, value string) string {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/", h.port), strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(name, value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("POST: %d %s", resp.StatusCode, out)
	}
	return string(out)
}

// docs/security.md: sessions, passwords, tokens, API keys and request headers, sent in args (top level, inside
// a multicall, inside a wrapper) or returned in results, appear nowhere under queue_dir, in Caddy's storage,
// in the log file (DEBUG) or in any delivery. Every call is subscribed (`subscribe *`), so only redaction and
// never_fire stand between the secrets and the receiver.
func TestSecretsAreNeverStoredLoggedOrSent(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(`
		preset otys
		redact_path request.args.2.Person.bsn result.Person.bsn result.data.Person.bsn
		subscribe * {recv}/all {
			secret {secret}
			client 42
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	sess := h.login() // never_fire: the API key goes upstream and nowhere else
	const (
		pwArgs   = "pw-Hunter2-a1"
		pwMulti  = "pw-Hunter2-b2"
		apiKey   = "api-key-cand-b2"
		bsn      = "bsn-123456789"
		header   = "hdr-secret-xyz"
		tokCand1 = "tok-cand-1-secret" // fakeows getDetail returns "token":"tok-<uid>-secret"
		marker   = "Augusta-marker"    // stored on purpose: proves the grep sees what is stored
	)

	// 1. A top-level update with a password and a redact_path field in its args, and a secret header.
	h.otysPostWithHeader(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[%q,"cand-1",{"firstName":%q,"password":%q,"Person":{"bsn":%q}}],"id":1}`,
		sess, marker, pwArgs, bsn), "Authorization", "Bearer "+header)
	// 2. A multicall: an add with secrets in its args, a getDetail whose result carries the token, the password
	// and the bsn stored by (1), and a second login whose result is a new session.
	_, multi := h.post(otysMulticall(2,
		otysEntry(otysPrefix+"CandidateService.add", fmt.Sprintf(`[%q,{"firstName":"Grace","passwd":%q,"apiKey":%q}]`, sess, pwMulti, apiKey)),
		otysEntry(otysPrefix+"CandidateService.getDetail", fmt.Sprintf(`[%q,"cand-1"]`, sess)),
		otysEntry("login", fmt.Sprintf(`[%q]`, testUser.APIKey)),
	))
	sess2 := gjson.Get(multi, "result.2.data").String()
	if !strings.HasPrefix(sess2, "sess_") || gjson.Get(multi, "result.1.data.token").String() != tokCand1 {
		t.Fatalf("multicall: %s", multi)
	}
	// 3. A wrapped getDetail (the wrapper's own param 0 is the language, the inner call's param 0 the session).
	_, wrapped := h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":["en",{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.getDetail","params":[%q,"cand-1"],"id":1}],"id":3}`, otysWrapper, sess))
	if gjson.Get(wrapped, "result.Person.bsn").String() != bsn {
		t.Fatalf("wrapped getDetail: %s", wrapped)
	}
	// 4. An upstream that echoes the session back in its result.
	_, echoed := h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"echo","params":[%q,{"note":"session was %s"}],"id":4}`, sess, sess))
	if !strings.Contains(echoed, sess) {
		t.Fatalf("echo: %s", echoed)
	}
	// 5. never_fire calls: a session check, a logout of the second session.
	h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"check","params":[%q],"id":5}`, sess))
	h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"logout","params":[%q],"id":6}`, sess2))

	// update, add, getDetail (in the multicall), wrapped getDetail, echo: 5 deliveries.
	got := h.recv.waitCount(t, 5)
	h.settled(5)
	if n := len(h.recv.deliveries()); n != 5 {
		t.Fatalf("want 5 deliveries, got %d", n)
	}
	methods := map[string]int{}
	for _, d := range got {
		methods[gjson.GetBytes(d.Body, "request.method").String()]++
	}
	want := map[string]int{otysPrefix + "CandidateService.update": 1, otysPrefix + "CandidateService.add": 1, otysPrefix + "CandidateService.getDetail": 2, "echo": 1}
	if fmt.Sprint(methods) != fmt.Sprint(want) {
		t.Errorf("fired %v, want %v (never_fire calls must not fire)", methods, want)
	}

	// Positive controls: the stored marker is visible to the grep, and the log file has content.
	if len(grepDir(t, h.queueDir(), marker)) == 0 {
		t.Fatalf("the marker %q is not found under queue_dir: the grep would prove nothing", marker)
	}
	if fi, err := os.Stat(h.logFile()); err != nil || fi.Size() == 0 {
		t.Fatalf("the log file is missing or empty: %v", err)
	}
	secrets := map[string]string{
		"session": sess, "second session": sess2, "API key": testUser.APIKey, "password in args": pwArgs,
		"password in a multicall": pwMulti, "apiKey in a multicall": apiKey, "redact_path bsn": bsn,
		"Authorization header": header, "token in a result": tokCand1,
	}
	for what, s := range secrets {
		// h.dir holds queue_dir, Caddy's storage and the log file.
		if hits := grepDir(t, h.dir, s); len(hits) > 0 {
			t.Errorf("%s %q is stored in %v", what, s, hits)
		}
		for _, d := range got {
			if strings.Contains(string(d.Body), s) || strings.Contains(fmt.Sprint(d.Header), s) {
				t.Errorf("%s %q is in a delivery: %s", what, s, d.Body)
			}
		}
	}
	// The redacted fields are still there, blanked: the receiver sees the shape, not the value.
	for _, d := range got {
		b := gjson.ParseBytes(d.Body)
		if b.Get("request.args.0").Type != gjson.Null {
			t.Errorf("args[0] not null: %s", d.Body)
		}
		if r := b.Get("result.data.token"); r.Exists() && r.Type != gjson.Null {
			t.Errorf("token not blanked: %s", d.Body)
		}
	}
}
