package queue

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func TestDeliverySignsAndSendsHeaders(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
	}{
		{"one secret", []string{testSecret}},
		{"rotation grace: two secrets", []string{testSecret2, testSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, statuses(200))
			q := newTestQueue(t)
			q.Configure(testConfig(), newFakeEndpoints(tt.secrets...))
			msg := newMessage(rc.srv.URL + "/hook")
			enqueue(t, q, msg)
			waitFor(t, 5*time.Second, statusIs(t, q, msg.ID, StatusDelivered))

			reqs := rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("receiver got %d requests, want 1", len(reqs))
			}
			got := reqs[0]
			for header, want := range map[string]string{
				"Content-Type": "application/json",
				"User-Agent":   "sidehook/test",
				"webhook-id":   msg.ID,
			} {
				if v := got.header.Get(header); v != want {
					t.Errorf("%s = %q, want %q", header, v, want)
				}
			}
			if string(got.body) != string(msg.Body) {
				t.Errorf("body = %s, want %s", got.body, msg.Body)
			}
			entries := strings.Fields(got.header.Get("webhook-signature"))
			if len(entries) != len(tt.secrets) {
				t.Fatalf("signature has %d entries, want %d: %q", len(entries), len(tt.secrets), entries)
			}
			for i, secret := range tt.secrets {
				wh, err := standardwebhooks.NewWebhook(secret)
				if err != nil {
					t.Fatal(err)
				}
				// Each entry alone must verify with its own secret.
				h := got.header.Clone()
				h.Set("webhook-signature", entries[i])
				if err := wh.Verify(got.body, h); err != nil {
					t.Errorf("signature entry %d does not verify with secret %d: %v", i, i, err)
				}
				if err := wh.Verify(got.body, got.header); err != nil {
					t.Errorf("full header does not verify with secret %d: %v", i, err)
				}
			}
			item := logOf(t, q, msg.ID)
			if item.IsProcessed != "1" || item.Attempts != 1 || item.ResponseCode != 200 || item.ResponseData != `{"n":0}` {
				t.Errorf("log item = %+v", item)
			}
		})
	}
}

func TestDeliveryOutcomes(t *testing.T) {
	retryAfterThenOK := func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
	redirect := func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}
	tests := []struct {
		name       string
		respond    func(int, http.ResponseWriter, *http.Request)
		timeout    time.Duration
		wantStatus string
		wantCodes  []int // response codes in order, 0 for a timeout
		wantGone   bool
		minGap     time.Duration // least time between first and second request
		wantError  string
	}{
		{name: "200", respond: statuses(200), wantStatus: StatusDelivered, wantCodes: []int{200}},
		{name: "500,500,200", respond: statuses(500, 500, 200), wantStatus: StatusDelivered, wantCodes: []int{500, 500, 200}},
		{name: "302 is a failure, not followed", respond: redirect, wantStatus: StatusDead, wantCodes: []int{302, 302, 302}, wantError: "302"},
		{name: "410 gone", respond: statuses(410), wantStatus: StatusGone, wantCodes: []int{410}, wantGone: true},
		{name: "429 Retry-After 1", respond: retryAfterThenOK, wantStatus: StatusDelivered, wantCodes: []int{429, 200}, minGap: 950 * time.Millisecond},
		{name: "timeout", timeout: 150 * time.Millisecond, respond: func(_ int, w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, wantStatus: StatusDead, wantCodes: []int{0, 0, 0}, wantError: "timeout"},
		{name: "all fail: dead", respond: statuses(500), wantStatus: StatusDead, wantCodes: []int{500, 500, 500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, tt.respond)
			q := newTestQueue(t)
			ep := newFakeEndpoints()
			cfg := testConfig()
			if tt.timeout > 0 {
				cfg.Timeout = tt.timeout
			}
			var mu sync.Mutex
			var attempts []AttemptInfo
			cfg.OnAttempt = func(a AttemptInfo) {
				mu.Lock()
				defer mu.Unlock()
				attempts = append(attempts, a)
			}
			q.Configure(cfg, ep)
			msg := newMessage(rc.srv.URL + "/hook")
			enqueue(t, q, msg)
			waitFor(t, 10*time.Second, statusIs(t, q, msg.ID, tt.wantStatus))

			reqs := rc.requests()
			if len(reqs) != len(tt.wantCodes) {
				t.Fatalf("receiver got %d requests, want %d", len(reqs), len(tt.wantCodes))
			}
			for i, r := range reqs {
				if r.path != "/hook" {
					t.Errorf("request %d went to %s: redirect followed", i, r.path)
				}
				if id := r.header.Get("webhook-id"); id != msg.ID {
					t.Errorf("request %d webhook-id = %s, want %s", i, id, msg.ID)
				}
			}
			if tt.minGap > 0 && reqs[1].at.Sub(reqs[0].at) < tt.minGap {
				t.Errorf("second attempt after %v, want at least %v", reqs[1].at.Sub(reqs[0].at), tt.minGap)
			}
			item := logOf(t, q, msg.ID)
			if item.Attempts != len(tt.wantCodes) {
				t.Errorf("attempts = %d, want %d", item.Attempts, len(tt.wantCodes))
			}
			if want := tt.wantCodes[len(tt.wantCodes)-1]; item.ResponseCode != want {
				t.Errorf("response_code = %d, want %d", item.ResponseCode, want)
			}
			if item.IsProcessed != "1" || item.Processed == "" || item.NextAttempt != "" {
				t.Errorf("final item not marked processed: %+v", item)
			}
			if !strings.Contains(item.Error, tt.wantError) {
				t.Errorf("error = %q, want it to mention %q", item.Error, tt.wantError)
			}
			if gone := ep.goneCalls(); tt.wantGone != (len(gone) == 1 && gone[0] == "sub") {
				t.Errorf("Gone calls = %v, want gone=%v", gone, tt.wantGone)
			}
			waitFor(t, 2*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(attempts) == len(tt.wantCodes)
			})
			mu.Lock()
			last := attempts[len(attempts)-1]
			mu.Unlock()
			if last.Outcome != tt.wantStatus || last.Latency <= 0 {
				t.Errorf("last AttemptInfo = %+v, want outcome %s", last, tt.wantStatus)
			}
			if s := q.Stats(); s.Depth != 0 || s.InFlight != 0 {
				t.Errorf("stats after final outcome = %+v", s)
			}
		})
	}
}

func TestRetryRedeliversDeadMessage(t *testing.T) {
	rc := newReceiver(t, statuses(500))
	q := newTestQueue(t)
	q.Configure(testConfig(), newFakeEndpoints())
	msg := newMessage(rc.srv.URL)
	enqueue(t, q, msg)
	waitFor(t, 5*time.Second, statusIs(t, q, msg.ID, StatusDead))
	if s := q.Stats(); s.Dead != 1 || s.Failed != 3 {
		t.Errorf("stats = %+v, want 1 dead, 3 failed", s)
	}

	rc.setRespond(statuses(200))
	if err := q.Retry(msg.ID); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	waitFor(t, 5*time.Second, statusIs(t, q, msg.ID, StatusDelivered))
	reqs := rc.requests()
	if len(reqs) != 4 || reqs[3].header.Get("webhook-id") != msg.ID {
		t.Fatalf("got %d requests; the replay must carry the same webhook-id", len(reqs))
	}
	if err := q.Retry("msg_unknown"); err != ErrNotFound {
		t.Errorf("Retry(unknown) = %v, want ErrNotFound", err)
	}
}

func TestSubscriptionGoneAtAttemptTime(t *testing.T) {
	rc := newReceiver(t, statuses(200))
	q := newTestQueue(t)
	q.Configure(testConfig(), &fakeEndpoints{secrets: map[string][]string{}})
	msg := newMessage(rc.srv.URL)
	enqueue(t, q, msg)
	waitFor(t, 5*time.Second, statusIs(t, q, msg.ID, StatusGone))
	if n := rc.count(); n != 0 {
		t.Errorf("receiver got %d requests for a deleted subscription", n)
	}
}

func TestResponseDataKeepsFirst64KiB(t *testing.T) {
	big := strings.Repeat("x", maxResponseData+1000)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(big))
	})
	q := newTestQueue(t)
	q.Configure(testConfig(), newFakeEndpoints())
	msg := newMessage(rc.srv.URL)
	enqueue(t, q, msg)
	waitFor(t, 5*time.Second, statusIs(t, q, msg.ID, StatusDelivered))
	if got := logOf(t, q, msg.ID).ResponseData; len(got) != maxResponseData {
		t.Errorf("response_data has %d bytes, want %d", len(got), maxResponseData)
	}
}

// A Retry of a job whose attempt is in flight waits for that attempt's outcome to be recorded and then
// makes the job due again: the Retry's change is neither overwritten by the outcome nor lost.
func TestRetryDuringAnAttemptWaitsForItsOutcome(t *testing.T) {
	rc, unblock := newFirstHangsReceiver(t)
	q, st := newTestQueueOn(t)
	t.Cleanup(unblock) // registered last, so it runs before the queue's and the receiver's cleanups, which wait for the attempt
	cfg := testConfig()
	cfg.Timeout = 30 * time.Second
	q.Configure(cfg, newFakeEndpoints())
	msg := newMessage(rc.srv.URL)
	enqueue(t, q, msg)
	waitFor(t, 5*time.Second, func() bool { return rc.count() == 1 })

	retried := make(chan error, 1)
	go func() { retried <- q.Retry(msg.ID) }()
	waitFor(t, 5*time.Second, func() bool { return st.RetriesWaiting() > 0 })
	select {
	case err := <-retried:
		t.Fatalf("Retry returned (%v) while the attempt was still in flight", err)
	default:
	}
	unblock()
	select {
	case err := <-retried:
		if err != nil {
			t.Fatalf("Retry: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Retry did not return once the attempt was over")
	}
	waitFor(t, 5*time.Second, func() bool { return rc.count() == 2 })
	waitFor(t, 5*time.Second, func() bool {
		item := logOf(t, q, msg.ID)
		return item.Status == StatusDelivered && item.Attempts == 2
	})
	if s := q.Stats(); s.Depth != 0 || s.Delivered != 2 {
		t.Errorf("stats = %+v, want depth 0 and 2 deliveries", s)
	}
}

// A Retry of a job claimed ahead (waiting for a free slot of its destination) does not wait for the
// attempts in flight: the job is given back and made due at once.
func TestRetryOfAReadyJobDoesNotWait(t *testing.T) {
	rc, unblock := newFirstHangsReceiver(t)
	q := newTestQueue(t)
	t.Cleanup(unblock)
	cfg := testConfig()
	cfg.Timeout = 30 * time.Second
	cfg.PerDestination = 1
	q.Configure(cfg, newFakeEndpoints())
	first, second := newMessage(rc.srv.URL), newMessage(rc.srv.URL)
	enqueue(t, q, first, second)
	// Ids of one millisecond sort by their random part: the one attempted first is the one that hangs.
	waitFor(t, 5*time.Second, func() bool { return rc.count() == 1 })
	if rc.requests()[0].header.Get("webhook-id") == second.ID {
		first, second = second, first
	}
	waitFor(t, 5*time.Second, func() bool {
		q.sched.mu.Lock()
		defer q.sched.mu.Unlock()
		for _, d := range q.sched.dests {
			for _, j := range d.ahead {
				if j.ID == second.ID {
					return true
				}
			}
		}
		return false
	})
	retried := make(chan error, 1)
	go func() { retried <- q.Retry(second.ID) }()
	select {
	case err := <-retried:
		if err != nil {
			t.Fatalf("Retry: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Retry of a ready job waited for the attempt in flight")
	}
	if n := rc.count(); n != 1 {
		t.Fatalf("receiver got %d requests; the first one should still hang", n)
	}
	unblock()
	for _, m := range []Message{first, second} {
		waitFor(t, 5*time.Second, statusIs(t, q, m.ID, StatusDelivered))
	}
	if n := rc.count(); n != 2 {
		t.Errorf("receiver got %d requests, want 2 (a Retry of a pending job makes it due, it does not add a delivery)", n)
	}
}

// newFirstHangsReceiver is a receiver that answers 200, except that its first request waits until unblock is
// called (any number of times).
func newFirstHangsReceiver(t *testing.T) (rc *receiver, unblock func()) {
	hang := make(chan struct{})
	var once sync.Once
	rc = newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			<-hang
		}
		w.WriteHeader(http.StatusOK)
	})
	return rc, func() { once.Do(func() { close(hang) }) }
}
