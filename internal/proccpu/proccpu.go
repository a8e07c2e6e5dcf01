// Package proccpu measures the CPU time the whole process uses, for benchmarks on shared machines: wall
// time per operation also counts the time other processes had the cores, CPU time does not, and a
// process-wide figure includes the work an operation leaves to background goroutines (Badger's
// compactions, the garbage collector, an in-process receiver).
package proccpu

import (
	"testing"
	"time"
)

// ReportPerOp makes b report the process's CPU time per op in nanoseconds ("cpu-ns/op"), from now until
// the returned function runs: call it as defer proccpu.ReportPerOp(b)(). Where the CPU time cannot be
// read, it reports nothing.
func ReportPerOp(b *testing.B) func() {
	start, ok := Used()
	return func() {
		if end, _ := Used(); ok {
			b.ReportMetric(float64((end-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

// WaitIdle waits, at most limit, until the process used less than a twentieth of a core over 200 ms:
// until the background work of what came before (Badger's compactions) is done. Where the CPU time
// cannot be read it returns at once.
func WaitIdle(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c0, ok := Used()
		if !ok {
			return
		}
		w0 := time.Now()
		<-time.After(200 * time.Millisecond) // the window the CPU time is measured over
		if c1, _ := Used(); c1-c0 < time.Since(w0)/20 {
			return
		}
	}
}
