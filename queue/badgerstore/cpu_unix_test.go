//go:build unix

package badgerstore

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU makes b report the process's CPU time per op, from now until
// the benchmark function returns (call it as defer reportCPU(b)()). Every
// goroutine counts, Badger's compactions and the receiver's included.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		b.ReportMetric(float64((processCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitProcessIdle waits, at most limit, until the process used less than a
// twentieth of a core over 200 ms: until the background work of what came
// before (Badger's compactions) is done.
func waitProcessIdle(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c0, w0 := processCPU(), time.Now()
		<-time.After(200 * time.Millisecond) // the window the CPU time is measured over
		if used := processCPU() - c0; used < time.Since(w0)/20 {
			return
		}
	}
}
