//go:build unix

package queue

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
