package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sidehook/sidehook/internal/proccpu"
	"github.com/sidehook/sidehook/queue/store"
)

// BenchmarkEnqueueParallel measures durable enqueue of one 2 KiB message per
// call from concurrent callers (group commit).
func BenchmarkEnqueueParallel(b *testing.B) {
	q, _ := openPausedBenchQueue(b)
	body := body2K()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := newMessage("http://127.0.0.1:1/")
			m.Body = body
			if _, err := q.Enqueue(context.Background(), []Message{m}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// The drain's CPU breakdown. On a machine where the receiver, sidehook and
// the plain client of the harness's drain figure share two cores, the rate
// each side reaches follows from the CPU it spends per POST. These three
// benchmarks measure that CPU (cpu-ns/op, from getrusage, so every goroutine
// counts: Badger's compactions, the HTTP client's loops, the receiver, which
// is the same httptest server in all three) with the same body and the same
// concurrency (drainConcurrency, the harness's per_destination):
//
//   - BenchmarkPlainPost: a plain net/http client POSTing the body;
//   - BenchmarkAttemptOnly: sidehook's attempt (signature, headers, the
//     guarded transport) without any storage;
//   - BenchmarkDeliverBacklog: sidehook emptying a backlog from its queue.
//
// DeliverBacklog minus AttemptOnly is what the queue's bookkeeping costs per
// delivery: reading the job, its state and body, committing the outcome,
// and Badger's compactions of it. bench/ runs them as figure 5b.

// drainConcurrency is the harness's per_destination in the drain figure.
const drainConcurrency = 8

// BenchmarkPlainPost is the drain's baseline: drainConcurrency goroutines
// POSTing a 2 KiB body with a plain client.
func BenchmarkPlainPost(b *testing.B) {
	srv := newBenchReceiver(b)
	body := body2K()
	tr := &http.Transport{MaxIdleConnsPerHost: drainConcurrency, MaxConnsPerHost: drainConcurrency}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	defer proccpu.ReportPerOp(b)()
	b.ResetTimer()
	parallelOps(b, func() error {
		req, err := http.NewRequest(http.MethodPost, srv, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	})
}

// BenchmarkAttemptOnly is sidehook's HTTP attempt of a 2 KiB body without
// the queue: what a delivery costs before any bookkeeping.
func BenchmarkAttemptOnly(b *testing.B) {
	srv := newBenchReceiver(b)
	q, _ := openPausedBenchQueue(b)
	full, ep := q.config(), newFakeEndpoints()
	proto := store.Job{Event: store.Event{ID: NewMessageID(), SubscriptionUID: "sub", URL: srv, Body: body2K()}}
	defer proccpu.ReportPerOp(b)()
	b.ResetTimer()
	parallelOps(b, func() error {
		job := proto
		if res := q.deliver(full, ep, job); !res.delivered {
			return errors.New(res.reason)
		}
		return nil
	})
}

// parallelOps runs op b.N times over drainConcurrency goroutines.
func parallelOps(b *testing.B, op func() error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range drainConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkDeliverBacklog measures draining a backlog of b.N 2 KiB events
// to a local receiver, with the harness's drain settings.
func BenchmarkDeliverBacklog(b *testing.B) {
	srv := newBenchReceiver(b)
	q, cfg := openPausedBenchQueue(b)
	body := body2K()
	for i := 0; i < b.N; i += 100 {
		batch := make([]Message, 0, 100)
		for j := i; j < min(i+100, b.N); j++ {
			m := newMessage(srv)
			m.Body = body
			batch = append(batch, m)
		}
		if _, err := q.Enqueue(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	// The fill's own compactions are not the drain's: let them finish first.
	proccpu.WaitIdle(30 * time.Second)
	defer proccpu.ReportPerOp(b)()
	b.ResetTimer()
	cfg.Paused = false
	q.Configure(cfg, newFakeEndpoints())
	deadline := time.Now().Add(5 * time.Minute)
	for q.Stats().Delivered < uint64(b.N) && time.Now().Before(deadline) {
		<-time.After(time.Millisecond) // poll interval
	}
	b.StopTimer()
	if got := q.Stats().Delivered; got != uint64(b.N) {
		b.Fatalf("delivered %d of %d", got, b.N)
	}
}

func newBenchReceiver(b *testing.B) string {
	srv := newReceiverFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	b.Cleanup(srv.Close)
	return srv.URL
}

// openPausedBenchQueue opens a queue in a fresh directory with delivery
// paused, no daily limit and the harness's drain concurrency, closed at the
// end of the benchmark.
func openPausedBenchQueue(b *testing.B) (*Queue, Config) {
	q, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = q.Close() })
	cfg := testConfig()
	cfg.Paused = true
	cfg.DailyLimit, cfg.DailyLimitSet = 0, true
	cfg.Workers, cfg.PerDestination = 16, drainConcurrency
	q.Configure(cfg, newFakeEndpoints())
	return q, cfg
}

// body2K is a 2 KiB JSON body of random (barely compressible) text.
func body2K() []byte {
	raw := make([]byte, 1500)
	_, _ = rand.Read(raw)
	return []byte(`{"event":"CandidateService.update","data":"` + base64.StdEncoding.EncodeToString(raw)[:2000] + `"}`)
}
