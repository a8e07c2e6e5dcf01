package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// drainCPUBenchmarks are the queue package's three drain benchmarks
// (queue/bench_test.go), in the order each run takes them: the plain client,
// sidehook's attempt without storage, sidehook's whole drain.
var drainCPUBenchmarks = []string{"PlainPost", "AttemptOnly", "DeliverBacklog"}

// drainCPU runs figure 5b: the CPU each of the drain benchmarks spends per
// POST, in one process with its receiver, so the drain's gap can be split
// into the attempt's own cost and the queue's bookkeeping. It runs the set
// three times (once in short mode), one after the other, so a slow moment of
// the machine touches all three alike, and keeps the medians.
func (r *report) drainCPU(root string, short bool) error {
	runs, n := 3, "50000x"
	if short {
		runs, n = 1, "2000x"
	}
	r.drainCPUns = map[string][]float64{}
	pattern := "^Benchmark(" + strings.Join(drainCPUBenchmarks, "|") + ")$"
	for i := 0; i < runs; i++ {
		cmd := exec.Command("go", "test", "-run", "^$", "-bench", pattern, "-benchtime", n, "-count", "1", "./queue")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("drain CPU benchmarks: %v\n%s", err, out)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			for j := 2; j+1 < len(f); j += 2 {
				if f[j+1] != "cpu-ns/op" {
					continue
				}
				name := strings.TrimPrefix(strings.SplitN(f[0], "-", 2)[0], "Benchmark")
				v, _ := strconv.ParseFloat(f[j], 64)
				r.drainCPUns[name] = append(r.drainCPUns[name], v)
			}
		}
	}
	for _, name := range drainCPUBenchmarks {
		if len(r.drainCPUns[name]) != runs {
			return fmt.Errorf("drain CPU benchmarks: %d results for %s, want %d", len(r.drainCPUns[name]), name, runs)
		}
	}
	return nil
}

// drainCPURow is figure 5b's line of the table, empty when it did not run.
func (r *report) drainCPURow() string {
	if len(r.drainCPUns) == 0 {
		return ""
	}
	us := func(name string) float64 { return median(r.drainCPUns[name]) / 1000 }
	plain, attempt, drain := us("PlainPost"), us("AttemptOnly"), us("DeliverBacklog")
	var ratios []float64
	for i, p := range r.drainCPUns["PlainPost"] {
		ratios = append(ratios, r.drainCPUns["DeliverBacklog"][i]/p)
	}
	return fmt.Sprintf("| 5b | CPU per POST in one process with its receiver (Go benchmarks of queue/, 2 KiB bodies, %d connections, as in figure 5; medians of %d runs): plain client %.0f µs, sidehook's attempt without storage %.0f µs, sidehook's drain of a backlog %.0f µs, so the queue's bookkeeping (reading job, state and body, committing the outcome, Badger's compactions) is %.0f µs per delivery | the plain client | %.2f (drain ÷ plain), %.2f (attempt ÷ plain) | %s | - | diagnostic |\n",
		drainConcurrency, len(ratios), plain, attempt, drain, drain-attempt, drain/plain, attempt/plain, spread(ratios, "%.2f"))
}
