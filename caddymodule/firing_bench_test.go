package caddymodule

import (
	"net/http"
	"testing"
	"time"

	"github.com/sidehook/sidehook/internal/proccpu"
	"github.com/sidehook/sidehook/matcher"
	"github.com/sidehook/sidehook/proxy"
)

// BenchmarkFiringWork measures sidehook's own work on a matched call, without the queue: parsing the request,
// holding the response, pairing it with the calls, redacting the event and building the payload; everything
// BenchmarkServeHTTP's "matched" does except Enqueue (Badger's write and its commit wait, whose time and
// background allocations swamp the rest there). Same call and answer as BenchmarkServeHTTP. Run it as
//
//	go test -run '^$' -bench BenchmarkFiringWork -benchmem ./caddymodule
//
// Beside ns/op it reports cpu-ns/op, the process's CPU time per call (the garbage collector's included): on a
// shared machine, wall time per call also counts the time other processes had the cores.
func BenchmarkFiringWork(b *testing.B) {
	body := []byte(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":["s3ss10n-0123456789abcdef",1234,{"Person":{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com"}}],"id":1}`)
	result := []byte(`{"jsonrpc":"2.0","result":{"ok":true,"uid":1234},"id":1}`)
	rt := &handlerState{redactor: &proxy.Redactor{SessionParam: 0, Keys: proxy.DefaultRedactKeys()}, payload: proxy.OTYSPayload, maxBody: defaultMaxBody}
	subs := []*matcher.Subscription{{UID: "sub_0123456789", WebhookURL: "http://127.0.0.1:9/hook"}}
	w := &discardResponse{h: http.Header{}}
	b.ReportAllocs()
	defer proccpu.ReportPerOp(b)()
	for b.Loop() {
		req, err := proxy.ParseVisited(body, &proxy.Nesting{}) // as serveObserved, after the scan (not measured) validated body
		if err != nil {
			b.Fatal(err)
		}
		plan := newFiringPlan(len(req.Calls))
		plan.subs[0], plan.ids[0] = subs, matcher.Identity{Client: "42", User: "7"}
		clear(w.h)
		w.h.Set("Content-Type", "application/json")
		holder := proxy.NewHolder(w, rt.maxBody, nil)
		holder.ReserveForCopies(plan.copiesPerResponseByte())
		if _, err := holder.Write(result); err != nil {
			b.Fatal(err)
		}
		resp, err := holder.DecodedBody()
		if err != nil {
			b.Fatal(err)
		}
		msgs := rt.messages(req, req.Outcomes(resp), plan, time.Now())
		if len(msgs) != 1 {
			b.Fatalf("%d messages, want 1", len(msgs))
		}
		if err := holder.Release(); err != nil {
			b.Fatal(err)
		}
	}
}

// discardResponse is a ResponseWriter that keeps nothing but its header map (reused).
type discardResponse struct{ h http.Header }

func (w *discardResponse) Header() http.Header         { return w.h }
func (w *discardResponse) WriteHeader(int)             {}
func (w *discardResponse) Write(p []byte) (int, error) { return len(p), nil }
