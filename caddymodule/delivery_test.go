package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue"
)

// hook is a webhook receiver whose answers may carry headers (Retry-After, Location), which the harness's
// receiver cannot, and which keeps each attempt's time for the timeline.
type hook struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []attemptSeen
	// arrived counts requests as they come in; got is appended as they are answered.
	arrived int
	// answer writes the response to attempt n (0-based) of any event.
	answer func(n int, w http.ResponseWriter, r *http.Request)
}

// attemptSeen is one request a hook received.
type attemptSeen struct {
	at     time.Time // when it arrived
	path   string
	id     string // webhook-id
	status int
}

func newHook(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *hook {
	t.Helper()
	hk := &hook{answer: answer}
	hk.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets net/http notice the client hanging up, which cancels r.Context().
		_, _ = io.Copy(io.Discard, r.Body)
		hk.mu.Lock()
		n := hk.arrived
		hk.arrived++
		hk.mu.Unlock()
		arrivedAt := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		hk.answer(n, rec, r)
		hk.mu.Lock()
		hk.got = append(hk.got, attemptSeen{at: arrivedAt, path: r.URL.Path, id: r.Header.Get("webhook-id"), status: rec.status})
		hk.mu.Unlock()
	}))
	t.Cleanup(hk.srv.Close)
	return hk
}

// arrivedCount counts requests received, answered or not.
func (hk *hook) arrivedCount() int {
	hk.mu.Lock()
	defer hk.mu.Unlock()
	return hk.arrived
}

// attempts are the requests answered so far, in the order they arrived.
func (hk *hook) attempts() []attemptSeen {
	hk.mu.Lock()
	defer hk.mu.Unlock()
	return append([]attemptSeen(nil), hk.got...)
}

// timeline renders attempts as "+0ms 503, +1012ms 200", each relative to the first.
func timeline(as []attemptSeen) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, fmt.Sprintf("+%dms %d", a.at.Sub(as[0].at).Milliseconds(), a.status))
	}
	return strings.Join(parts, ", ")
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// codes answers attempt n with codes[n], repeating the last one.
func codes(cs ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(cs[min(n, len(cs)-1)]) }
}

// adminLogs reads the delivery log items through the admin API.
func adminLogs(t *testing.T) []queue.LogItem {
	t.Helper()
	var items []queue.LogItem
	adminGet(t, "/sidehook/logs?limit=100", &items)
	return items
}

// Each status class, end to end through Caddy, with the attempt timeline it produced (docs/payloads.md#delivery-rules):
// 2xx delivers; 3xx fails and is not followed; 410 disables the subscription; 429 and 503 Retry-After (in
// seconds or as an HTTP date) hold the next attempt back although the schedule says 50ms; a timeout retries.
func TestEveryStatusClassEndToEnd(t *testing.T) {
	redirected := make(chan struct{}, 10)
	cases := []struct {
		name     string
		answer   func(n int, w http.ResponseWriter, r *http.Request)
		attempts int           // requests the receiver must get
		status   string        // final log status
		minGap   time.Duration // least time between the first two attempts
		disabled bool          // the subscription ends disabled
	}{
		{name: "2xx delivers", answer: codes(204), attempts: 1, status: queue.StatusDelivered},
		{name: "3xx fails, never followed", answer: func(_ int, w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/moved" {
				redirected <- struct{}{}
			}
			w.Header().Set("Location", "/moved")
			w.WriteHeader(http.StatusFound)
		}, attempts: 3, status: queue.StatusDead},
		{name: "410 disables the subscription", answer: codes(http.StatusGone), attempts: 1, status: queue.StatusGone, disabled: true},
		{name: "429 Retry-After seconds", answer: func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 0 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusOK)
		}, attempts: 2, status: queue.StatusDelivered, minGap: time.Second},
		{name: "503 Retry-After HTTP date", answer: func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 0 {
				// An HTTP date has whole seconds: two seconds ahead is at least one second away.
				w.Header().Set("Retry-After", time.Now().Add(2*time.Second).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		}, attempts: 2, status: queue.StatusDelivered, minGap: time.Second},
		{name: "timeout retries", answer: func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 0 {
				<-r.Context().Done() // hang until sidehook gives up on the attempt
				w.WriteHeader(http.StatusGatewayTimeout)
				return
			}
			w.WriteHeader(http.StatusOK)
		}, attempts: 2, status: queue.StatusDelivered, minGap: 300 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hk := newHook(t, c.answer)
			h := newHarness(t, harnessOptions{})
			h.load(fmt.Sprintf(`
		subscribe echo %s/hook {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
			timeout 300ms
			retry 50ms 50ms
		}`, hk.srv.URL))
			if status, out := h.post(`{"jsonrpc":"2.0","method":"echo","params":["x"],"id":1}`); status != http.StatusOK {
				t.Fatalf("call: %d %s", status, out)
			}
			var item queue.LogItem
			waitFor(t, 15*time.Second, func() bool {
				items := adminLogs(t)
				if len(items) == 1 {
					item = items[0]
				}
				return item.IsProcessed == "1"
			}, "the event's final outcome (log %+v)", item)
			got := hk.attempts()
			t.Logf("timeline: %s; log: status %s, attempts %d, response_code %d", timeline(got), item.Status, item.Attempts, item.ResponseCode)
			if item.Status != c.status {
				t.Errorf("log status %q, want %q", item.Status, c.status)
			}
			if len(got) != c.attempts || item.Attempts != c.attempts {
				t.Errorf("%d requests and %d attempts logged, want %d", len(got), item.Attempts, c.attempts)
			}
			for _, a := range got {
				if a.id != got[0].id || a.path != "/hook" {
					t.Errorf("attempt %+v: every attempt must carry the same webhook-id to /hook", a)
				}
			}
			if c.minGap > 0 && len(got) >= 2 {
				if gap := got[1].at.Sub(got[0].at); gap < c.minGap {
					t.Errorf("second attempt %s after the first, want at least %s", gap, c.minGap)
				}
			}
			select {
			case <-redirected:
				t.Errorf("a redirect was followed")
			default:
			}
			var subs []struct {
				UID      string
				Disabled bool
			}
			adminGet(t, "/sidehook/subscriptions", &subs)
			if len(subs) != 1 || subs[0].Disabled != c.disabled {
				t.Errorf("subscriptions %+v, want one with disabled=%v", subs, c.disabled)
			}
			if c.disabled { // a disabled subscription fires no more
				h.post(`{"jsonrpc":"2.0","method":"echo","params":["y"],"id":2}`)
				if n := len(adminLogs(t)); n != 1 {
					t.Errorf("%d log items after a call to the disabled subscription, want 1", n)
				}
			}
			h.settled(h.stats().Delivered)
		})
	}
}

// A hanging destination and a fast one behind the same sidehook: the fast one's deliveries keep their normal
// latency while every worker slot the hanging one may use is stuck.
func TestHangingDestinationDoesNotDelayAFastOne(t *testing.T) {
	release := make(chan struct{})
	hanging := newHook(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
	})
	defer close(release)
	fast := newHook(t, codes(200))
	h := newHarness(t, harnessOptions{})
	// The hanging receiver listens on 127.0.0.1 and the fast one is reached as localhost: two destinations.
	fastURL := strings.Replace(fast.srv.URL, "127.0.0.1", "localhost", 1)
	h.load(fmt.Sprintf(`
		subscribe echo %s/slow {
			secret {secret}
		}
		subscribe echo %s/fast {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32 ::1/128
			workers 4
			per_destination 2
			timeout 1m
		}`, hanging.srv.URL, fastURL))
	const calls = 20
	var worst time.Duration
	for i := range calls {
		sent := time.Now()
		h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"echo","params":[%d],"id":1}`, i))
		waitFor(t, 5*time.Second, func() bool { return len(fast.attempts()) == i+1 }, "fast delivery %d", i+1)
		worst = max(worst, fast.attempts()[i].at.Sub(sent))
	}
	var s stats
	waitFor(t, 5*time.Second, func() bool { s = h.stats(); return s.Delivered == calls && s.InFlight == 2 }, "the fast deliveries committed")
	t.Logf("%d calls: worst call-to-delivery latency at the fast receiver %s while %d attempts hang (stats %+v)", calls, worst, hanging.arrivedCount(), s)
	if n := hanging.arrivedCount(); n != 2 {
		t.Errorf("the hanging destination has %d attempts open, want per_destination=2", n)
	}
	if s.InFlight != 2 || s.Depth != calls-2 {
		t.Errorf("want the hanging destination's 2 in flight and %d waiting, stats %+v", calls-2, s)
	}
	if worst > time.Second {
		t.Errorf("the fast destination waited up to %s", worst)
	}
}
