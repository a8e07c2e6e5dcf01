package queue

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// BenchmarkEnqueueParallel measures durable enqueue of one 2 KiB message per
// call from concurrent callers (group commit).
func BenchmarkEnqueueParallel(b *testing.B) {
	q, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	cfg := testConfig()
	cfg.Paused = true
	cfg.DailyLimit, cfg.DailyLimitSet = 0, true
	q.Configure(cfg, newFakeEndpoints())
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

// BenchmarkDeliverBacklog measures draining a backlog to a local receiver.
func BenchmarkDeliverBacklog(b *testing.B) {
	srv := newBenchReceiver(b)
	q, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	cfg := testConfig()
	cfg.Paused = true
	cfg.DailyLimit, cfg.DailyLimitSet = 0, true
	cfg.Workers, cfg.PerDestination = 16, 16
	q.Configure(cfg, newFakeEndpoints())
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
