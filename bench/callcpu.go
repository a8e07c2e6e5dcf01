package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Why the throughput figures carry each Caddy process's CPU per call: the ratios say how much slower a
// candidate is, the CPU per call says what each call costs it, so that a figure's distance from its bar
// can be set against what sidehook's parts cost on their own (queue/badgerstore's BenchmarkEnqueue and
// BenchmarkBadgerFloor; bench/README.md, "Where the floor is"). The CPU is the process's own (utime +
// stime from /proc), the load generator and the upstream excluded.

// callCPU accumulates, per throughput candidate, the CPU time and the calls answered of the bare baseline
// and of the candidate over its pairs.
type callCPU struct {
	baseCPU, candCPU     map[string]time.Duration
	baseCalls, candCalls map[string]int64
}

func newCallCPU() *callCPU {
	return &callCPU{baseCPU: map[string]time.Duration{}, candCPU: map[string]time.Duration{},
		baseCalls: map[string]int64{}, candCalls: map[string]int64{}}
}

// add files one pair: the CPU each process used during it and the calls each answered. A pair whose CPU
// could not be read (zero) or that answered nothing is left out.
func (c *callCPU) add(key string, baseCPU, candCPU time.Duration, baseCalls, candCalls int64) {
	if baseCPU <= 0 || candCPU <= 0 || baseCalls <= 0 || candCalls <= 0 {
		return
	}
	c.baseCPU[key] += baseCPU
	c.candCPU[key] += candCPU
	c.baseCalls[key] += baseCalls
	c.candCalls[key] += candCalls
}

// perCall is the candidate's and the baseline's CPU per call in µs over key's pairs.
func (c *callCPU) perCall(key string) (cand, base float64) {
	if c.candCalls[key] == 0 || c.baseCalls[key] == 0 {
		return 0, 0
	}
	return float64(c.candCPU[key].Microseconds()) / float64(c.candCalls[key]),
		float64(c.baseCPU[key].Microseconds()) / float64(c.baseCalls[key])
}

// line says, for the candidates measured, the CPU per call of each side; empty when none was measured.
func (c *callCPU) line(names map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c.candCalls)) {
		cand, base := c.perCall(k)
		parts = append(parts, fmt.Sprintf("%s %.0f vs bare %.0f µs (%+.0f)", names[k], cand, base, cand-base))
	}
	if len(parts) == 0 {
		return ""
	}
	return "- CPU per call of each Caddy process during the throughput pairs, candidate vs the bare baseline of the same pairs: " +
		strings.Join(parts, "; ") + " (what sidehook adds per call; see \"Where the floor is\" in bench/README.md)\n"
}
