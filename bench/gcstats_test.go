package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A trimmed admin /metrics answer of a Caddy process, with the lines around the two values the report uses.
const sampleMetrics = `# HELP go_gc_duration_seconds A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 0.00017956
go_gc_duration_seconds{quantile="1"} 0.006438145
go_gc_duration_seconds_sum 0.007912882
go_gc_duration_seconds_count 45
go_gc_gogc_percent 100
# HELP go_memstats_next_gc_bytes Number of heap bytes when next garbage collection will take place.
go_memstats_next_gc_bytes 5.4525952e+07
`

func TestParseGCMetricsFindsCyclesAndGoal(t *testing.T) {
	s := parseGCMetrics(sampleMetrics)
	if !s.complete || s.cycles != 45 || s.goalMiB != 52 {
		t.Fatalf("got %+v, want 45 cycles, 52 MiB goal, complete", s)
	}
}

func TestParseGCMetricsWithoutGoalIsIncomplete(t *testing.T) {
	text := strings.ReplaceAll(sampleMetrics, "go_memstats_next_gc_bytes", "other_metric")
	if s := parseGCMetrics(text); s.complete {
		t.Fatalf("got %+v from metrics without a heap goal, want incomplete", s)
	}
}

func TestGCRatesPerThousandCalls(t *testing.T) {
	g := newGCRates()
	// bare: 40 cycles over 10,000 calls; candidate: 6 over 12,000, in two pairs.
	g.add("unmatched", gcSample{cycles: 100, goalMiB: 9, complete: true}, gcSample{cycles: 120, goalMiB: 9, complete: true},
		gcSample{cycles: 10, goalMiB: 50, complete: true}, gcSample{cycles: 13, goalMiB: 52, complete: true}, 5000, 6000)
	g.add("unmatched", gcSample{cycles: 120, goalMiB: 9, complete: true}, gcSample{cycles: 140, goalMiB: 9, complete: true},
		gcSample{cycles: 13, goalMiB: 52, complete: true}, gcSample{cycles: 16, goalMiB: 52, complete: true}, 5000, 6000)
	// A pair whose sample failed does not count.
	g.add("unmatched", gcSample{}, gcSample{cycles: 999, complete: true}, gcSample{cycles: 16, complete: true}, gcSample{cycles: 16, complete: true}, 5000, 6000)
	line := g.line(map[string]string{"unmatched": "unmatched"})
	if !strings.Contains(line, "unmatched 0.50 vs bare 4.00 (heap goal 52 vs 9 MiB)") {
		t.Fatalf("line = %q", line)
	}
	if newGCRates().line(nil) != "" {
		t.Fatal("no pairs sampled should print nothing")
	}
}

// gcSampleOf reads an instance's admin /metrics; an endpoint that answers something else gives an
// incomplete sample, which gcRates then leaves out.
func TestGCSampleOfReadsAdminMetrics(t *testing.T) {
	var metrics atomic.Pointer[string]
	metrics.Store(new(sampleMetrics))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(*metrics.Load()))
	}))
	defer srv.Close()
	in := &instance{admin: srv.Listener.Addr().(*net.TCPAddr).Port}
	if s := in.gcSampleOf(); !s.complete || s.cycles != 45 {
		t.Fatalf("got %+v, want 45 cycles, complete", s)
	}
	metrics.Store(new("404 page not found"))
	if s := in.gcSampleOf(); s.complete {
		t.Fatalf("got %+v from an answer without metrics, want incomplete", s)
	}
}
