package caddymodule

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/sidehook/sidehook/matcher"
	"github.com/sidehook/sidehook/proxy"
	"github.com/sidehook/sidehook/queue"
)

// What one observed call reserves of the memory budget covers every byte firing allocates: parsing the
// request, pairing it with the response, redacting the events, building the payloads and storing them. The
// copy factors in memory.go are checked here against the allocator's own count, for the shapes that make the
// most copies: one large result, one result fanned out to several subscriptions, a large request, a batch.
func TestFireReservationCoversWhatFiringAllocates(t *testing.T) {
	q, err := queue.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	q.Configure(queue.Config{Paused: true}, nil)
	for _, tc := range []struct {
		name                   string
		calls, params, results int // a batch when calls > 1
		subs                   int
	}{
		{name: "large result", calls: 1, params: 100, results: 4 << 20, subs: 1},
		{name: "large result, five subscriptions", calls: 1, params: 100, results: 4 << 20, subs: 5},
		{name: "large request", calls: 1, params: 4 << 20, results: 100, subs: 2},
		{name: "batch", calls: 8, params: 64 << 10, results: 512 << 10, subs: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reqs, resps []string
			for i := range tc.calls {
				reqs = append(reqs, fmt.Sprintf(`{"jsonrpc":"2.0","method":"S.get","params":["sess",{"password":"x","p":"%s"}],"id":%d}`, strings.Repeat("p", tc.params), i))
				resps = append(resps, fmt.Sprintf(`{"jsonrpc":"2.0","result":{"token":"t","r":"%s"},"id":%d}`, strings.Repeat("r", tc.results), i))
			}
			body, resp := []byte(reqs[0]), []byte(resps[0])
			if tc.calls > 1 {
				body, resp = []byte("["+strings.Join(reqs, ",")+"]"), []byte("["+strings.Join(resps, ",")+"]")
			}
			rt := &handlerState{redactor: &proxy.Redactor{SessionParam: 0, Keys: proxy.DefaultRedactKeys()}, payload: proxy.OTYSPayload}
			subs := make([]*matcher.Subscription, tc.subs)
			for i := range subs {
				subs[i] = &matcher.Subscription{UID: fmt.Sprint("sub", i), WebhookURL: "http://127.0.0.1/hook/{%user.clientId%}"}
			}
			var before, after goruntime.MemStats
			goruntime.GC()
			goruntime.ReadMemStats(&before)

			req, err := proxy.Parse(body, &proxy.Nesting{})
			if err != nil {
				t.Fatal(err)
			}
			plan := &firingPlan{subs: make([][]*matcher.Subscription, len(req.Calls)), ids: make([]matcher.Identity, len(req.Calls))}
			for i := range plan.subs {
				plan.subs[i], plan.ids[i] = subs, matcher.Identity{Client: "42", User: "7"}
			}
			outcomes := req.Outcomes(resp)
			msgs := rt.messages(req, outcomes, plan, time.Now())
			if _, err := q.Enqueue(context.Background(), msgs); err != nil {
				t.Fatal(err)
			}
			goruntime.ReadMemStats(&after)

			if len(msgs) != tc.calls*tc.subs {
				t.Fatalf("%d messages, want %d", len(msgs), tc.calls*tc.subs)
			}
			allocated := int64(after.TotalAlloc - before.TotalAlloc)
			reserved := requestCost(len(body)) + eventsCost(req, resp) + payloadCost(req, outcomes, plan)
			t.Logf("allocated %d, reserved %d (%.2f of the reservation)", allocated, reserved, float64(allocated)/float64(reserved))
			if raceEnabled {
				return // the race detector's own allocations are counted too
			}
			if allocated > reserved {
				t.Errorf("firing allocated %d bytes, more than the %d reserved for it", allocated, reserved)
			}
		})
	}
}
