package main

import (
	"bufio"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Why the throughput figures carry the Go GC's numbers: a bare Caddy keeps about 4 MiB live, so with
// GOGC=100 it collects every 4–5 MiB allocated, every few hundred calls. sidehook's queue holds Badger's
// memtable arena (about 21 MiB of pointer-free bytes, allocated when the queue opens), which raises the heap
// goal to about 50 MiB without adding marking work: the process collects five to six times less often per
// call. That, not sidehook's handling of the body, is why figure 1 comes out above 1 (bench/README.md, "Why
// figure 1 exceeds 1"). The report prints both processes' GC rates beside the ratios so that every run shows it.

// gcSample is what an instance's admin /metrics says about its garbage collector at one moment.
type gcSample struct {
	cycles   float64 // go_gc_duration_seconds_count: completed GC cycles since start
	goalMiB  float64 // go_memstats_next_gc_bytes: the heap size at which the next cycle starts
	complete bool    // both values were found
}

// parseGCMetrics reads the two Go collector values out of Prometheus text.
func parseGCMetrics(text string) gcSample {
	var s gcSample
	var haveCycles, haveGoal bool
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_gc_duration_seconds_count":
			s.cycles, haveCycles = v, true
		case "go_memstats_next_gc_bytes":
			s.goalMiB, haveGoal = v/(1<<20), true
		}
	}
	s.complete = haveCycles && haveGoal
	return s
}

// gcSampleOf asks an instance's admin endpoint; a sample that could not be taken is incomplete.
func (in *instance) gcSampleOf() gcSample {
	text, err := in.get("/metrics")
	if err != nil {
		return gcSample{}
	}
	return parseGCMetrics(text)
}

// gcRates accumulates, per throughput candidate, the GC cycles of the bare baseline and of the candidate
// over the calls each answered in its pairs, and the candidate's and baseline's heap goals after each pair.
type gcRates struct {
	baseCycles, candCycles map[string]float64
	baseCalls, candCalls   map[string]float64
	baseGoal, candGoal     map[string][]float64
}

func newGCRates() *gcRates {
	return &gcRates{baseCycles: map[string]float64{}, candCycles: map[string]float64{}, baseCalls: map[string]float64{},
		candCalls: map[string]float64{}, baseGoal: map[string][]float64{}, candGoal: map[string][]float64{}}
}

// add files one pair: the samples of both processes before and after it and the calls each answered.
// A pair with an incomplete sample is left out rather than counted as zero cycles.
func (g *gcRates) add(key string, baseBefore, baseAfter, candBefore, candAfter gcSample, baseCalls, candCalls int64) {
	if !baseBefore.complete || !baseAfter.complete || !candBefore.complete || !candAfter.complete || baseCalls <= 0 || candCalls <= 0 {
		return
	}
	g.baseCycles[key] += baseAfter.cycles - baseBefore.cycles
	g.candCycles[key] += candAfter.cycles - candBefore.cycles
	g.baseCalls[key] += float64(baseCalls)
	g.candCalls[key] += float64(candCalls)
	g.baseGoal[key] = append(g.baseGoal[key], baseAfter.goalMiB)
	g.candGoal[key] = append(g.candGoal[key], candAfter.goalMiB)
}

// line says, for the candidates measured, how often each side collected and how large its heap goal was;
// empty when no pair could be sampled.
func (g *gcRates) line(names map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(g.candCalls)) {
		parts = append(parts, fmt.Sprintf("%s %.2f vs bare %.2f (heap goal %.0f vs %.0f MiB)", names[k],
			1000*g.candCycles[k]/g.candCalls[k], 1000*g.baseCycles[k]/g.baseCalls[k], median(g.candGoal[k]), median(g.baseGoal[k])))
	}
	if len(parts) == 0 {
		return ""
	}
	return "- Go GC cycles per 1000 calls during the throughput pairs, candidate vs the bare baseline of the same pairs: " +
		strings.Join(parts, "; ") + " (a lower GC rate makes a process cheaper per call; see \"Why figure 1 exceeds 1\" in bench/README.md)\n"
}

// gcControlName is the -gc-control instance: bare reverse_proxy whose GC runs about as rarely as sidehook's.
const gcControlName = "bare_gogc"
