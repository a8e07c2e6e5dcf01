package caddymodule_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	_ "github.com/sidehook/sidehook/caddymodule"
	"github.com/sidehook/sidehook/internal/fakeows"
	"github.com/sidehook/sidehook/internal/freeport"
	"github.com/sidehook/sidehook/matcher"
)

// adminPort is caddytest's admin endpoint for the in-process Caddy of this package's tests; the environment
// variable SIDEHOOK_TEST_ADMIN_PORT moves it, so that two runs of these tests on one machine do not load
// their configs into each other's Caddy.
var adminPort = func() int {
	if p, err := strconv.Atoi(os.Getenv("SIDEHOOK_TEST_ADMIN_PORT")); err == nil && p > 0 {
		return p
	}
	return caddytest.Default.AdminPort
}()

// harness is one test's world, all on 127.0.0.1: a fake OWS upstream, a webhook receiver, and an in-process
// Caddy (caddytest) with two sites in front of the upstream: one with sidehook, one plain, so a test can
// compare what happens with and without sidehook.
type harness struct {
	t         *testing.T
	dir       string
	api       *fakeows.Server
	apiSrv    *httptest.Server
	upstream  string // host:port the sites proxy to
	recv      *receiver
	port      int // the sidehook site
	plainPort int // the same upstream without sidehook
	proxy     string
	secret    string
	session   string
}

type harnessOptions struct {
	shuffle  bool
	upstream http.Handler // replaces the fake OWS upstream
	proxy    string       // replaces "reverse_proxy <upstream>" in both sites; %s is the upstream address
}

// testUser is the fake OWS account the harness logs in with.
var testUser = fakeows.User{APIKey: "key-42-7", ClientID: "42", UserID: "7"}

func newHarness(t *testing.T, opts harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), recv: newReceiver(t)}
	h.api = fakeows.New(fakeows.Options{Users: []fakeows.User{testUser, {APIKey: "key-99-1", ClientID: "99", UserID: "1"}}, ShuffleBatch: opts.shuffle})
	var upstream http.Handler = h.api
	if opts.upstream != nil {
		upstream = opts.upstream
	}
	h.apiSrv = httptest.NewServer(upstream)
	t.Cleanup(h.apiSrv.Close)
	h.upstream = strings.TrimPrefix(h.apiSrv.URL, "http://")
	h.proxy = "reverse_proxy %s"
	if opts.proxy != "" {
		h.proxy = opts.proxy
	}
	h.port, h.plainPort = freePort(t), freePort(t)
	var err error
	if h.secret, err = matcher.NewSecret(); err != nil {
		t.Fatal(err)
	}
	return h
}

// load starts (or replaces) the in-process Caddy config with the given lines inside the sidehook block.
// {recv} in the lines stands for the receiver's base URL, {secret} for the harness's secret.
func (h *harness) load(sidehookLines string) {
	h.t.Helper()
	lines := strings.NewReplacer("{recv}", h.recv.srv.URL, "{secret}", h.secret).Replace(sidehookLines)
	cfg := fmt.Sprintf(`{
	admin localhost:%d
	skip_install_trust
	http_port %d
	https_port %d
	grace_period 1ns
	storage file_system %s
	log {
		output file %s
		level DEBUG
	}
}
http://127.0.0.1:%d {
	sidehook {
		queue_dir %s
%s
	}
	%s
}
http://127.0.0.1:%d {
	%s
}
`, adminPort, freePort(h.t), freePort(h.t), filepath.Join(h.dir, "storage"), h.logFile(), h.port, h.queueDir(), lines,
		fmt.Sprintf(h.proxy, h.upstream), h.plainPort, fmt.Sprintf(h.proxy, h.upstream))
	tester := caddytest.NewTester(h.t).WithDefaultOverrides(caddytest.Config{AdminPort: adminPort})
	tester.InitServer(cfg, "caddyfile")
	if h.t.Failed() || h.t.Skipped() {
		h.t.Fatalf("config did not load:\n%s", cfg)
	}
	// Unload before t.TempDir is removed, so the queue is closed while its directory still exists.
	h.t.Cleanup(func() { unload(h.t) })
}

// unload replaces the running config with one that runs nothing but the admin endpoint.
func unload(t *testing.T) {
	body := fmt.Sprintf(`{"admin":{"listen":"localhost:%d"}}`, adminPort)
	resp, err := http.Post(fmt.Sprintf("http://localhost:%d/load", adminPort), "application/json", strings.NewReader(body))
	if err != nil {
		t.Errorf("unloading the config: %v", err)
		return
	}
	resp.Body.Close()
}

func (h *harness) queueDir() string { return filepath.Join(h.dir, "queue") }

// logFile is where Caddy's logs (sidehook's included) go, at DEBUG, so tests can grep them for secrets.
func (h *harness) logFile() string { return filepath.Join(h.dir, "caddy.log") }

// post sends a body to the sidehook site and returns the status and body.
func (h *harness) post(body string) (int, string) {
	h.t.Helper()
	return postTo(h.t, h.port, body)
}

func postTo(t *testing.T, port int, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/", port), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	return resp.StatusCode, string(out)
}

// login logs the test user in through sidehook and keeps the session.
func (h *harness) login() string {
	h.t.Helper()
	return h.loginAs(testUser.APIKey)
}

func (h *harness) loginAs(key string) string {
	h.t.Helper()
	_, out := h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"login","params":[%q],"id":1}`, key))
	var r struct{ Result string }
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Result == "" {
		h.t.Fatalf("login failed: %s", out)
	}
	if key == testUser.APIKey {
		h.session = r.Result
	}
	return r.Result
}

// adminGet reads an admin route of the in-process Caddy into v.
func adminGet(t *testing.T, path string, v any) {
	t.Helper()
	body := adminGetRaw(t, path)
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("admin GET %s: %v: %s", path, err, body)
	}
}

// adminGetRaw returns the body of an admin route of the in-process Caddy.
func adminGetRaw(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://localhost:%d%s", adminPort, path))
	if err != nil {
		t.Fatalf("admin GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin GET %s: %d %s", path, resp.StatusCode, body)
	}
	return string(body)
}

type stats struct {
	Depth     uint64 `json:"depth"`
	InFlight  uint64 `json:"in_flight"`
	Dead      uint64 `json:"dead"`
	Delivered uint64 `json:"delivered"`
	Failed    uint64 `json:"failed"`
	Limited   uint64 `json:"limited"`
}

func (h *harness) stats() stats {
	h.t.Helper()
	var s stats
	adminGet(h.t, "/sidehook/stats", &s)
	return s
}

// settled waits until the queue has nothing waiting or in flight and n deliveries succeeded: after that, no
// further delivery can come, so a test may count what arrived.
func (h *harness) settled(delivered uint64) {
	h.t.Helper()
	waitFor(h.t, 15*time.Second, func() bool {
		s := h.stats()
		return s.Depth == 0 && s.InFlight == 0 && s.Delivered == delivered
	}, "queue settled with %d delivered (stats: %+v)", delivered, h.stats())
}

// grepDir reports the files under dir that contain needle.
func grepDir(t *testing.T, dir, needle string) []string {
	t.Helper()
	var hits []string
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(needle)) {
			hits = append(hits, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
	return hits
}

// delivery is one request the receiver got.
type delivery struct {
	Path   string
	Header http.Header
	Body   []byte
	Status int // what the receiver answered
}

func (d delivery) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(d.Body, &m); err != nil {
		t.Fatalf("delivery body is not JSON: %v: %s", err, d.Body)
	}
	return m
}

// receiver is a webhook receiver that records every request and answers with respond (default 200).
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []delivery
	respond func(n int, r *http.Request) int
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		status := http.StatusOK
		if rc.respond != nil {
			status = rc.respond(len(rc.got), r)
		}
		rc.got = append(rc.got, delivery{Path: r.URL.Path, Header: r.Header.Clone(), Body: body, Status: status})
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) setRespond(f func(n int, r *http.Request) int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.respond = f
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

func (rc *receiver) waitCount(t *testing.T, n int) []delivery {
	t.Helper()
	waitFor(t, 15*time.Second, func() bool { return len(rc.deliveries()) >= n }, "%d deliveries (have %d)", n, len(rc.deliveries()))
	return rc.deliveries()
}

// verify checks a delivery's Standard Webhooks signature with the reference library.
func verify(t *testing.T, secret string, d delivery) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(d.Body, d.Header); err != nil {
		t.Fatalf("signature does not verify: %v\nheaders: %v", err, d.Header)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, cond func() bool, what string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for "+what, append([]any{within}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freePort is a loopback port for a site or listener of the test; never the same twice (freeport).
func freePort(t *testing.T) int { return freeport.Port(t) }
