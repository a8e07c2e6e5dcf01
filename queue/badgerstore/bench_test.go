package badgerstore

import (
	"testing"
	"time"

	"github.com/sidehook/sidehook/internal/proccpu"
	"github.com/sidehook/sidehook/queue/store"
)

// benchPolicy is the default delivery configuration's: 30 days of logs, the default retry
// schedule's pending span.
var benchPolicy = store.Policy{KeepLogs: 30 * 24 * time.Hour, PendingSpan: 36 * time.Hour}

// BenchmarkClaimRecord is the store's share of a drain (the benchmark's figure 5): a backlog of
// b.N jobs of 2 KiB bodies for one destination, claimed 8 at a time and recorded delivered until
// none is left. µs/job is the bookkeeping each delivery costs (wall time, Badger's compactions
// included; cpu-µs/job is the process's CPU time, every goroutine counted). "each" records every outcome on its own, as attempts ending one by one do;
// "batch" records the 8 claimed together, as an engine grouping its commits does.
func BenchmarkClaimRecord(b *testing.B) {
	for _, mode := range []struct {
		name  string
		batch bool
	}{{"each", false}, {"batch", true}} {
		b.Run(mode.name, func(b *testing.B) {
			s := openStore(b, "")
			body := body2K()
			for done := 0; done < b.N; {
				n := min(100, b.N-done)
				batch := make([]store.Event, n)
				for i := range batch {
					batch[i] = newEvent(testURL)
					batch[i].Body = body
				}
				if _, err := s.Enqueue(b.Context(), batch, time.Now(), benchPolicy); err != nil {
					b.Fatal(err)
				}
				done += n
			}
			dest := store.Destination(testURL)
			proccpu.WaitIdle(10 * time.Second) // the enqueue's compactions are not the drain's
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuNow()
			drained := 0
			for drained < b.N {
				jobs, _, err := s.Claim(dest, time.Now().UnixNano(), 8)
				if err != nil || len(jobs) == 0 {
					b.Fatalf("Claim after %d of %d: %d jobs, %v", drained, b.N, len(jobs), err)
				}
				out := make([]store.Outcome, len(jobs))
				for i, j := range jobs {
					out[i] = deliveredNow(j)
				}
				if mode.batch {
					err = s.Record(out, benchPolicy)
				} else {
					for i := range out {
						if err = s.Record(out[i:i+1], benchPolicy); err != nil {
							break
						}
					}
				}
				if err != nil {
					b.Fatal(err)
				}
				drained += len(jobs)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/job")
			b.ReportMetric(float64((cpuNow()-cpu).Microseconds())/float64(b.N), "cpu-µs/job")
		})
	}
}

// BenchmarkEnqueue is the store's share of a matched call (figure 2): one 2 KiB event per
// Enqueue from 16 concurrent callers (the benchmark's 16 connections), durable when it returns.
func BenchmarkEnqueue(b *testing.B) {
	s := openStore(b, "")
	body := body2K()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	cpu := cpuNow()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ev := newEvent(testURL)
			ev.Body = body
			if _, err := s.Enqueue(b.Context(), []store.Event{ev}, time.Now(), benchPolicy); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuNow()-cpu).Microseconds())/float64(b.N), "cpu-µs/event")
}

// cpuNow is the process's CPU time so far (0 where it cannot be read, which makes the cpu metrics 0).
func cpuNow() time.Duration {
	d, _ := proccpu.Used()
	return d
}
