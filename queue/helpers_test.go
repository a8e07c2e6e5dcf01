package queue

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store/memstore"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, deadline time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("condition not met within %v", deadline)
		}
		<-time.After(5 * time.Millisecond) // poll interval, not synchronisation
	}
}

const (
	testSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	testSecret2 = "whsec_dGhlIHNlY29uZCBzZWNyZXQgZm9yIHRlc3Rz"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// fakeEndpoints serves signing secrets per uid and records Gone calls.
type fakeEndpoints struct {
	mu      sync.Mutex
	secrets map[string][]string
	gone    []string
}

func newFakeEndpoints(secrets ...string) *fakeEndpoints {
	if len(secrets) == 0 {
		secrets = []string{testSecret}
	}
	return &fakeEndpoints{secrets: map[string][]string{"sub": secrets}}
}

func (f *fakeEndpoints) SigningSecrets(uid string) ([]string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.secrets[uid]
	return s, ok
}

func (f *fakeEndpoints) Gone(uid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gone = append(f.gone, uid)
	delete(f.secrets, uid)
}

func (f *fakeEndpoints) goneCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.gone...)
}

var _ Endpoints = (*fakeEndpoints)(nil)

// receivedRequest is one POST a receiver saw.
type receivedRequest struct {
	path   string
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a webhook receiver on 127.0.0.1 whose answer to the n-th
// request (0-based) is decided by respond.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []receivedRequest
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.reqs)
		rc.reqs = append(rc.reqs, receivedRequest{path: r.URL.Path, header: r.Header.Clone(), body: body, at: time.Now()})
		respond := rc.respond
		rc.mu.Unlock()
		if respond != nil {
			respond(n, w, r)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// statuses answers request n with codes[n], repeating the last code.
func statuses(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(codes[min(n, len(codes)-1)])
		_, _ = fmt.Fprintf(w, `{"n":%d}`, n)
	}
}

func (rc *receiver) requests() []receivedRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]receivedRequest(nil), rc.reqs...)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

func (rc *receiver) setRespond(f func(int, http.ResponseWriter, *http.Request)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.respond = f
}

// testConfig is a fast config allowing loopback destinations.
func testConfig() Config {
	return Config{
		Workers:          4,
		PerDestination:   2,
		Timeout:          2 * time.Second,
		Retry:            []time.Duration{10 * time.Millisecond, 20 * time.Millisecond},
		AllowDestination: loopback,
		UserAgent:        "sidehook/test",
	}
}

// openQueue opens a queue in a fresh directory, closed at cleanup.
func openQueue(t *testing.T, dir string) *Queue {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	q, err := Open(dir, zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// newTestQueue is the engine over a fresh memory store, closed at cleanup: the engine's behaviour
// tests need nothing durable.
func newTestQueue(t *testing.T) *Queue {
	t.Helper()
	q, _ := newTestQueueOn(t)
	return q
}

// newTestQueueOn is newTestQueue, with the store for tests that act on it.
func newTestQueueOn(t *testing.T) (*Queue, *memstore.Store) {
	t.Helper()
	st := memstore.New()
	q := New(st, zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel)))
	t.Cleanup(func() { _ = q.Close() })
	return q, st
}

func newMessage(url string) Message {
	return Message{
		ID:              NewMessageID(),
		SubscriptionUID: "sub",
		ClientID:        "42",
		UserID:          "7",
		URL:             url,
		Body:            []byte(`{"event":"CandidateService.update","n":1}`),
		Created:         time.Now(),
	}
}

func enqueue(t *testing.T, q *Queue, msgs ...Message) EnqueueResult {
	t.Helper()
	res, err := q.Enqueue(context.Background(), msgs)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return res
}

// logOf returns the log item of id, failing the test when it is missing.
func logOf(t *testing.T, q *Queue, id string) LogItem {
	t.Helper()
	item, ok, err := q.Log(id)
	if err != nil || !ok {
		t.Fatalf("Log(%s): ok=%v err=%v", id, ok, err)
	}
	return item
}

// statusIs is a waitFor condition on a log item's status.
func statusIs(t *testing.T, q *Queue, id, status string) func() bool {
	return func() bool {
		item, ok, err := q.Log(id)
		return err == nil && ok && item.Status == status
	}
}

// newReceiverFunc is a bare receiver for benchmarks, without recording.
func newReceiverFunc(h http.HandlerFunc) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h(w, r)
	}))
}
