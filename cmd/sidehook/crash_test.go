package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/sidehook/sidehook/internal/fakeows"
	"github.com/sidehook/sidehook/queue"
)

// crashSecret signs the test subscription; any whsec_ secret will do.
const crashSecret = "whsec_c2lkZWhvb2stY3Jhc2gtc2VjcmV0LTMyLWJ5dGVzISE="

// hookWorld is what a binary delivery test runs against, all on 127.0.0.1: a fake JSON-RPC upstream and a
// webhook receiver in this process, and the addresses and home directory of the sidehook binary, which the
// test starts, kills and restarts on the same queue_dir.
type hookWorld struct {
	t     *testing.T
	home  string
	site  string // host:port of the sidehook site
	admin string // host:port of Caddy's admin endpoint
	api   string // host:port of the upstream
	recv  *tally
}

func newHookWorld(t *testing.T) *hookWorld {
	t.Helper()
	api := httptest.NewServer(fakeows.New(fakeows.Options{}))
	t.Cleanup(api.Close)
	return &hookWorld{
		t:     t,
		home:  t.TempDir(),
		site:  freeAddr(t),
		admin: freeAddr(t),
		api:   strings.TrimPrefix(api.URL, "http://"),
		recv:  newTally(t, freeAddr(t)),
	}
}

func (w *hookWorld) queueDir() string { return filepath.Join(w.home, "queue") }

// caddyfile is sidehook in front of the upstream, subscribed to `echo`, with the given delivery lines.
func (w *hookWorld) caddyfile(delivery string) string {
	return testGlobals(w.admin, filepath.Join(w.home, "storage")) + fmt.Sprintf(`http://%s {
	sidehook {
		queue_dir %s
		subscribe echo http://%s/hook {
			secret %s
		}
		delivery {
			allow_destination 127.0.0.1/32
			daily_limit 0
%s
		}
	}
	reverse_proxy %s
}
`, w.site, w.queueDir(), w.recv.addr, crashSecret, delivery, w.api)
}

// start runs the binary on the Caddyfile.
func (w *hookWorld) start(delivery string) *process {
	w.t.Helper()
	return startCaddy(w.t, w.home, w.caddyfile(delivery), w.site)
}

// client posts events; its timeout only guards against a test hanging forever.
var client = &http.Client{Timeout: 30 * time.Second}

// fire makes the call that becomes event key. A nil error means the client got its answer, and with it the
// promise that the event is stored.
func (w *hookWorld) fire(key string) error {
	resp, err := client.Post("http://"+w.site+"/", "application/json",
		strings.NewReader(fmt.Sprintf(`{"jsonrpc":"2.0","method":"echo","params":[%q],"id":1}`, key)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || gjson.GetBytes(body, "result.0").String() != key {
		return fmt.Errorf("call %s answered %d: %s", key, resp.StatusCode, body)
	}
	return nil
}

// stats reads the queue's numbers from the admin API; ok is false while the process is not answering.
func (w *hookWorld) stats() (queue.Stats, bool) {
	var s queue.Stats
	resp, err := client.Get("http://" + w.admin + "/sidehook/stats")
	if err != nil {
		return s, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&s) != nil {
		return s, false
	}
	return s, true
}

// eventKey names event i; the receiver counts deliveries by it, so a duplicate is a second 2xx for one key.
func eventKey(i int) string { return fmt.Sprintf("ev-%06d", i) }

// tally is a webhook receiver that counts what it accepted by event key (the echo call's first param, which
// the delivery carries as request.args[0]). Its answer is chosen per request by decide.
type tally struct {
	addr string
	srv  *http.Server

	mu       sync.Mutex
	accepted map[string]int // event key -> 2xx answers given
	inFlight map[string]int // event key -> requests being answered now
	// overlapping counts requests that arrived while another delivery of the same event was being answered:
	// a job attempted twice at once, which claims must prevent (a duplicate after a crash is allowed, an
	// overlap never).
	overlapping int
	requests    int
	hanging     int
	decide      func() int    // status to answer
	hang        chan struct{} // non-nil: requests wait on it (or on the client going away) before answering
	ln          net.Listener
}

// newTally listens on addr at once.
func newTally(t *testing.T, addr string) *tally {
	t.Helper()
	tl := emptyTally(addr)
	tl.srv = &http.Server{Handler: tl}
	t.Cleanup(func() { _ = tl.srv.Close() })
	tl.up(t)
	return tl
}

// emptyTally is a tally for addr that has counted nothing and answers 200, not yet serving.
func emptyTally(addr string) *tally {
	return &tally{addr: addr, accepted: map[string]int{}, inFlight: map[string]int{}, decide: func() int { return http.StatusOK }}
}

// up (re)starts listening on the tally's address.
func (tl *tally) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", tl.addr)
	if err != nil {
		t.Fatalf("receiver listening on %s: %v", tl.addr, err)
	}
	tl.mu.Lock()
	tl.ln = ln
	tl.mu.Unlock()
	go func() { _ = tl.srv.Serve(ln) }()
}

// down stops accepting connections: deliveries get "connection refused". The http.Server stays usable for up.
func (tl *tally) down() {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.ln != nil {
		_ = tl.ln.Close()
		tl.ln = nil
	}
}

func (tl *tally) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := gjson.GetBytes(body, "request.args.0").String()
	tl.mu.Lock()
	tl.requests++
	if tl.inFlight[key]++; tl.inFlight[key] > 1 {
		tl.overlapping++
	}
	defer func() {
		tl.mu.Lock()
		tl.inFlight[key]--
		tl.mu.Unlock()
	}()
	hang := tl.hang
	if hang != nil {
		tl.hanging++
		tl.mu.Unlock()
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		tl.mu.Lock()
		tl.hanging--
		if r.Context().Err() != nil {
			tl.mu.Unlock()
			return
		}
	}
	status := tl.decide()
	if status/100 == 2 {
		tl.accepted[key]++
	}
	tl.mu.Unlock()
	w.WriteHeader(status)
}

// setHang makes requests wait until release is called.
func (tl *tally) setHang() {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.hang = make(chan struct{})
}

// release lets hanging requests, and all later ones, answer.
func (tl *tally) release() {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.hang != nil {
		close(tl.hang)
		tl.hang = nil
	}
}

func (tl *tally) setDecide(f func() int) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.decide = f
}

// counts returns how many distinct events were accepted, the extra 2xx answers (duplicates), all requests,
// and the requests hanging now.
func (tl *tally) counts() (distinct, duplicates, requests, hanging int) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, n := range tl.accepted {
		distinct++
		duplicates += n - 1
	}
	return distinct, duplicates, tl.requests, tl.hanging
}

// overlaps is how many deliveries arrived while another of the same event was still being answered.
func (tl *tally) overlaps() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.overlapping
}

// undelivered lists the keys among want that the receiver never accepted.
func (tl *tally) undelivered(want []string) []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var out []string
	for _, k := range want {
		if tl.accepted[k] == 0 {
			out = append(out, k)
		}
	}
	return out
}

// missing lists the keys among want that were never accepted (at most 10, for a failure message).
func (tl *tally) missing(want []string) []string {
	out := tl.undelivered(want)
	return out[:min(len(out), 10)]
}

// waitAccepted waits until every key in want was accepted at least once.
func (w *hookWorld) waitAccepted(want []string, within time.Duration) {
	w.t.Helper()
	deadline := time.Now().Add(within)
	for len(w.recv.missing(want)) > 0 {
		if time.Now().After(deadline) {
			s, _ := w.stats()
			w.t.Fatalf("after %s, events never delivered: %v… (queue stats %+v)", within, w.recv.missing(want), s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Issue #2: the built binary killed with SIGKILL while 200 events are pending, some of them in flight to a
// receiver that hangs, delivers all 200 after restart.
func TestKilledWithPendingEventsDeliversAllAfterRestart(t *testing.T) {
	const events, workers = 200, 4
	w := newHookWorld(t)
	w.recv.setHang()
	delivery := fmt.Sprintf("\t\t\tworkers %d\n\t\t\tper_destination %d\n\t\t\ttimeout 1m\n\t\t\tretry 100ms 200ms 400ms 800ms 1s", workers, workers)
	p := w.start(delivery)
	keys := make([]string, events)
	for i := range keys {
		keys[i] = eventKey(i)
		if err := w.fire(keys[i]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 15*time.Second, func() bool { _, _, _, h := w.recv.counts(); return h == workers }, "attempts hanging at the receiver")
	s, _ := w.stats()
	t.Logf("before SIGKILL: %+v", s)
	if s.Depth+s.InFlight != events || s.InFlight != workers {
		t.Errorf("want %d events pending with %d in flight, stats say %+v", events, workers, s)
	}
	p.kill()
	w.recv.release()

	start := time.Now()
	w.start(delivery)
	w.waitAccepted(keys, 60*time.Second)
	distinct, dups, requests, _ := w.recv.counts()
	t.Logf("after restart: %d distinct events delivered in %s, %d duplicates, %d requests in all (the %d that hung were cut off by the kill)",
		distinct, time.Since(start).Round(time.Millisecond), dups, requests, workers)
	if distinct != events {
		t.Errorf("delivered %d distinct events, want %d", distinct, events)
	}
}

// `caddy validate` of a config whose queue_dir a running instance holds succeeds: Provision must not need
// the Badger lock.
func TestValidateWhileAnInstanceHoldsTheQueue(t *testing.T) {
	w := newHookWorld(t)
	w.start("")
	if err := w.fire(eventKey(1)); err != nil { // the queue is open for sure once an event went in
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(w.queueDir(), "LOCK")); errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the running instance holds no Badger lock in %s", w.queueDir())
	}
	path := filepath.Join(w.home, "validate.Caddyfile")
	if err := os.WriteFile(path, []byte(w.caddyfile("\t\t\tworkers 2")), 0o600); err != nil {
		t.Fatal(err)
	}
	v := runSidehook(t, w.home, "validate", "--config", path, "--adapter", "caddyfile")
	if code := v.exitCode(60 * time.Second); code != 0 {
		t.Fatalf("validate exited %d while an instance runs:\n%s", code, v.output.String())
	}
	if out := v.output.String(); !strings.Contains(out, "Valid configuration") {
		t.Errorf("validate did not say the config is valid:\n%s", out)
	}
}
