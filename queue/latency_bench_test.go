package queue

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sidehook/sidehook/internal/proccpu"
)

// BenchmarkCallToDeliveryAfterBacklog measures enqueue-to-recorded-delivery
// latency at 1,000 single-message enqueues/s on a queue that has already
// delivered a backlog (whose deleted job keys stay as tombstones until
// compaction), like bench's figure 6 on a long-running instance; compaction
// is left to catch up with the backlog first. It reports
// p50 and p99 in milliseconds; run with -benchtime 1x.
func BenchmarkCallToDeliveryAfterBacklog(b *testing.B) {
	const (
		backlog = 50000
		rate    = 1000
		run     = 3 * time.Second
	)
	srv := newBenchReceiver(b)
	for range b.N {
		q, err := Open(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		var (
			mu   sync.Mutex
			lats []time.Duration
			on   bool
		)
		cfg := testConfig()
		cfg.DailyLimit, cfg.DailyLimitSet = 0, true
		cfg.Workers, cfg.PerDestination = 16, 8
		cfg.OnAttempt = func(a AttemptInfo) {
			mu.Lock()
			if on {
				lats = append(lats, a.Latency)
			}
			mu.Unlock()
		}
		q.Configure(cfg, newFakeEndpoints())
		for i := 0; i < backlog; i += 100 {
			batch := make([]Message, 0, 100)
			for range 100 {
				batch = append(batch, newMessage(srv))
			}
			if _, err := q.Enqueue(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		}
		for q.Stats().Delivered < backlog {
			time.Sleep(10 * time.Millisecond)
		}
		// Let the store's background work (compaction) catch up with the
		// backlog's writes, so that what is measured is the scheduler, not a
		// write stall.
		proccpu.WaitIdle(30 * time.Second)
		mu.Lock()
		on = true
		mu.Unlock()
		b.ResetTimer()
		tick := time.NewTicker(time.Second / rate)
		end := time.Now().Add(run)
		sent := 0
		for time.Now().Before(end) {
			<-tick.C
			m := newMessage(srv)
			m.Created = time.Now()
			go func() { _, _ = q.Enqueue(context.Background(), []Message{m}) }()
			sent++
		}
		tick.Stop()
		for q.Stats().Delivered < uint64(backlog+sent) {
			time.Sleep(10 * time.Millisecond)
		}
		b.StopTimer()
		_ = q.Close()
		mu.Lock()
		slices.Sort(lats)
		if len(lats) > 0 {
			b.ReportMetric(float64(lats[len(lats)/2])/1e6, "p50-ms")
			b.ReportMetric(float64(lats[len(lats)*99/100])/1e6, "p99-ms")
		}
		mu.Unlock()
	}
}
