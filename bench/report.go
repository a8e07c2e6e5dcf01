package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

type profile struct {
	name                string
	cpu, cumCPU, allocs string
	files               []string
}

type c2dResult struct {
	sent                         int
	errors                       int64
	delivered, over250           int
	p50, p99, p999, max, callP99 time.Duration
}

type memResult struct {
	n                   int
	depth, failed       uint64
	rssStart, rss, peak int64
	// anon and file split rss: heap and stacks, and mapped file pages.
	anon, file, peakAnon int64
	settle               time.Duration
	fill                 time.Duration
	runtime              string
}

type diskResult struct {
	n, eventBytes               int
	depth                       uint64
	liveAlloc, liveApparent     int64
	closedAlloc, closedApparent int64
}

type benchLine struct {
	name              string
	ns, bytes, allocs float64
}

// report gathers every figure of one run and prints the table.
type report struct {
	opts    options
	machine string
	elapsed time.Duration
	broken  string

	throughput     map[string][]float64 // aa, unmatched, paused, delivered (and gogc with -gc-control): candidate/bare per pair
	gc             *gcRates             // the GC cycles of both sides of the throughput pairs
	callCPU        *callCPU             // the CPU per call of both sides of the throughput pairs
	deliveredShare []float64
	addedP99       map[string][]float64 // ms
	p99            map[string][]float64 // candidate p99, ms
	c2d            c2dResult
	drainRatio     []float64
	drainRates     [][2]float64
	drainCores     [][2]float64         // cores used by sidehook and by the harness (receiver, plain client) per pair
	drainCPUns     map[string][]float64 // figure 5b: cpu-ns/op of each drain benchmark, per run
	mem            memResult
	disk           diskResult
	allocs         []benchLine
	allocsRaw      string
	profiles       []profile
	findings       []string
	deliveredStats queueStats
	// steal is the share of the machine's CPU time stolen by the hypervisor, per figure group and for the
	// whole run ("run"); -1 where /proc/stat could not be read.
	steal map[string]float64
}

// maxSteal is the stolen share above which an absolute latency (figure 6, which has no baseline in the same
// run to cancel it) says noise instead of a verdict.
const maxSteal = 0.10

// stealLine says how much CPU time the hypervisor took during the run, per figure group.
func (r *report) stealLine() string {
	if s, ok := r.steal["run"]; !ok || s < 0 {
		return "- steal time: not readable (/proc/stat)\n"
	}
	var parts []string
	for _, g := range []string{"paired", "c2d", "drain", "mem", "disk"} {
		if s, ok := r.steal[g]; ok && s >= 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", g, 100*s))
		}
	}
	return fmt.Sprintf("- steal time (CPU time the hypervisor gave other guests while this one had work): %.0f%% of the machine's over the run (%s); above %.0f%% a figure 6 over its bar reads as noise\n",
		100*r.steal["run"], strings.Join(parts, ", "), 100*maxSteal)
}

// errorLog files an instance's error-level log lines (Caddy's, sidehook's) as a finding.
func (r *report) errorLog(in *instance) {
	f, err := os.Open(filepath.Join(in.dir, "caddy.log"))
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var first []string
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `"level":"error"`) {
			continue
		}
		n++
		if len(first) < 3 {
			if len(line) > 600 {
				line = line[:600] + "…"
			}
			first = append(first, "`"+line+"`")
		}
	}
	if n > 0 {
		r.finding(fmt.Sprintf("%s logged %d error lines; the first: %s", in.name, n, strings.Join(first, " ")))
	}
}

// finding records something the run saw about sidehook (not a failure of the harness).
func (r *report) finding(what string) {
	logf("FINDING: %s", what)
	r.findings = append(r.findings, what)
}

func (r *report) broke(why string) {
	logf("PROBLEM: %s", why)
	if r.broken != "" {
		r.broken += "; "
	}
	r.broken += why
}

// allocBench runs the handler benchmarks of caddymodule/bench_test.go and keeps their -benchmem lines.
func (r *report) allocBench(root string, short bool) error {
	benchtime := "20000x"
	if short {
		benchtime = "2000x"
	}
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkServeHTTP", "-benchmem", "-benchtime", benchtime, "-count", "1", "./caddymodule")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "SIDEHOOK_TEST_ADMIN_PORT=3601")
	out, err := cmd.CombinedOutput()
	r.allocsRaw = string(out)
	if err != nil {
		return fmt.Errorf("allocation benchmark: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || !strings.HasPrefix(f[0], "BenchmarkServeHTTP") {
			continue
		}
		l := benchLine{name: f[0]}
		for i := 2; i+1 < len(f); i += 2 {
			v, _ := strconv.ParseFloat(f[i], 64)
			switch f[i+1] {
			case "ns/op":
				l.ns = v
			case "B/op":
				l.bytes = v
			case "allocs/op":
				l.allocs = v
			}
		}
		r.allocs = append(r.allocs, l)
	}
	if len(r.allocs) == 0 {
		return fmt.Errorf("allocation benchmark printed no results:\n%s", out)
	}
	return nil
}

func (r *report) alloc(sub string) (benchLine, bool) {
	for _, l := range r.allocs {
		if strings.Contains(l.name, "/"+sub) {
			return l, true
		}
	}
	return benchLine{}, false
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(v []float64, format string) string {
	if len(v) == 0 {
		return "-"
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return fmt.Sprintf(format+" … "+format+" (n=%d)", s[0], s[len(s)-1], len(s))
}

func verdict(ok bool) string {
	if ok {
		return "meets"
	}
	return "**misses**"
}

func (r *report) markdown() string {
	var b strings.Builder
	mode := "full"
	if r.opts.short {
		mode = "short (checks the harness; not a speed measurement)"
	}
	fmt.Fprintf(&b, "## sidehook benchmark, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- mode: %s; %d pairs of %s (throughput, %d connections per target) and %s (latency, %d req/s per target); took %s\n",
		mode, r.opts.pairs, r.opts.duration, r.opts.conns, r.opts.latDuration, r.opts.latRate, r.elapsed.Round(time.Second))
	fmt.Fprintf(&b, "- machine: %s\n", r.machine)
	b.WriteString(r.stealLine())
	if r.opts.only != "" {
		fmt.Fprintf(&b, "- partial run (-only %s): rows of figures not run show zeros\n", r.opts.only)
	}
	aa := median(r.throughput["aa"])
	noisy := len(r.throughput["aa"]) == 0 || aa < 0.98 || aa > 1.02
	if noisy {
		fmt.Fprintf(&b, "- **A/A control median %.3f is more than 2%% from 1: the throughput ratios below are NOISE, not a measurement**\n", aa)
	} else {
		fmt.Fprintf(&b, "- A/A control median %.3f (within 2%% of 1): the throughput ratios hold\n", aa)
	}
	// The latency pairs have their own A/A control: bare against bare at the same rate should add nothing,
	// and when its median alone moves the p99 by more than the bar, a slow moment of the machine, not
	// sidehook, decides the p99s of that run.
	latAA := median(r.addedP99["aa"])
	latNoisy := len(r.addedP99["aa"]) == 0 || latAA < -1 || latAA > 1
	if latNoisy {
		fmt.Fprintf(&b, "- **latency A/A control adds %+.2f ms, more than the 1 ms bar: the added p99 latencies below are NOISE, not a measurement**\n", latAA)
	} else {
		fmt.Fprintf(&b, "- latency A/A control adds %+.2f ms (within 1 ms): the added p99 latencies hold\n", latAA)
	}
	candidates := map[string]string{"aa": "A/A copy", "unmatched": "unmatched", "paused": "paused (matched and queued)", "delivered": "delivered", "gogc": "bare with GOGC=1000"}
	if r.gc != nil {
		b.WriteString(r.gc.line(candidates))
	}
	if r.callCPU != nil {
		b.WriteString(r.callCPU.line(candidates))
	}
	b.WriteString("\n| # | figure | baseline (same run) | median | spread (min … max) | bar | verdict |\n|---|---|---|---|---|---|---|\n")
	tp := func(n, key, what string, bar float64) {
		v := r.throughput[key]
		m := median(v)
		ver := verdict(m >= bar)
		if noisy && key != "aa" {
			ver = "noise"
		}
		if key == "aa" {
			ver = "control"
		}
		barText := fmt.Sprintf("≥ %.2f", bar)
		if key == "aa" {
			barText = "1 ± 0.02"
			ver = verdict(!noisy)
		}
		fmt.Fprintf(&b, "| %s | %s | bare reverse_proxy | %.3f | %s | %s | %s |\n", n, what, m, spread(v, "%.3f"), barText, ver)
	}
	tp("A/A", "aa", "throughput, bare reverse_proxy vs a second copy of itself", 0)
	tp("1", "unmatched", "throughput, sidehook, no subscription matches", 0.97)
	tp("2", "paused", "throughput, every call matched and queued, delivery paused", 0.85)
	tp("3", "delivered", fmt.Sprintf("throughput, every call matched, queued and delivered (deliveries made during the pair: %.0f%% of the calls, median)", 100*median(r.deliveredShare)), 0.5)
	if v := r.throughput["gogc"]; len(v) > 0 {
		fmt.Fprintf(&b, "| info | throughput, bare reverse_proxy run with GOGC=1000 (a heap goal like sidehook's: how much of figure 1 a rarer GC alone gives) | bare reverse_proxy | %.3f | %s | - | - |\n", median(v), spread(v, "%.3f"))
	}
	for _, k := range []struct{ key, what string }{{"aa", "added p99 latency, A/A control (bare vs bare)"}, {"unmatched", "added p99 latency per call, no match"}, {"paused", "added p99 latency per call, matched and queued"}} {
		v := r.addedP99[k.key]
		m := median(v)
		ver := verdict(m <= 1)
		if latNoisy {
			ver = "noise"
		}
		if k.key == "aa" {
			ver = verdict(!latNoisy)
		}
		num := "4"
		if k.key == "aa" {
			num = "A/A"
		}
		bar := "≤ 1 ms"
		if k.key == "aa" {
			bar = "0 ± 1 ms"
		}
		fmt.Fprintf(&b, "| %s | %s (candidate p99 median %.2f ms) | p99 of bare reverse_proxy at the same rate | %+.2f ms | %s | %s | %s |\n",
			num, k.what, median(r.p99[k.key]), m, spread(v, "%+.2f"), bar, ver)
	}
	dv := r.drainRatio
	rates := ""
	if len(r.drainRates) > 0 {
		var sr, pr []float64
		for _, x := range r.drainRates {
			sr, pr = append(sr, x[0]), append(pr, x[1])
		}
		rates = fmt.Sprintf(" (%.0f/s vs %.0f/s, medians)", median(sr), median(pr))
	}
	if len(r.drainCores) > 0 {
		var sc, hc []float64
		for _, x := range r.drainCores {
			sc, hc = append(sc, x[0]), append(hc, x[1])
		}
		rates += fmt.Sprintf(" (cores used while both ran: sidehook %.2f, receiver and plain client %.2f, medians)", median(sc), median(hc))
	}
	fmt.Fprintf(&b, "| 5 | backlog drain, %d events to a local receiver%s | plain Go client POSTing the same number of bodies, same concurrency, same time | %.3f | %s | ≥ 0.70 | %s |\n",
		r.opts.drainN, rates, median(dv), spread(dv, "%.3f"), verdict(median(dv) >= 0.7))
	b.WriteString(r.drainCPURow())
	c := r.c2d
	// Stolen time only makes latency worse: a p99 under the bar holds whatever the steal, one over it is
	// not sidehook's when the machine was taken away for a tenth of the time or more.
	c2dMeets := c.delivered > 0 && c.p99 <= 250*time.Millisecond
	c2dVerdict := verdict(c2dMeets)
	if st, ok := r.steal["c2d"]; ok && st > maxSteal && !c2dMeets && c.delivered > 0 {
		c2dVerdict = fmt.Sprintf("noise (over the bar with %.0f%% of the CPU time stolen)", 100*st)
	}
	fmt.Fprintf(&b, "| 6 | call-to-delivery latency at %d matched calls/s, p99 (%d calls, %d deliveries timed; p50 %s, p99.9 %s, max %s, %d over 250 ms; the calls' own p99 %s) | none (absolute) | %s | - | ≤ 250 ms | %s |\n",
		r.opts.c2dRate, c.sent, c.delivered, c.p50.Round(time.Millisecond), c.p999.Round(time.Millisecond), c.max.Round(time.Millisecond), c.over250, c.callP99.Round(100*time.Microsecond), c.p99.Round(time.Millisecond), c2dVerdict)
	m := r.mem
	fmt.Fprintf(&b, "| 7a | resident memory with %d events queued, receiver down (queue depth %d; RSS at start %d MiB; filled in %s; highest RSS sampled every 250 ms over the %s after the last event was queued; at the end %d MiB anonymous, %d MiB mapped file pages; while queueing at full speed the resident set peaked at %d MiB and anonymous memory at %d MiB) | none (absolute) | %d MiB | peak while queueing %d MiB | ≤ 256 MiB | %s |\n",
		m.n, m.depth, m.rssStart>>20, m.fill.Round(time.Second), m.settle, m.anon>>20, m.file>>20, m.peak>>20, m.peakAnon>>20, m.rss>>20, m.peak>>20, verdict(m.rss > 0 && m.rss <= 256<<20))
	d := r.disk
	per := func(x int64) float64 { return float64(x) / float64(max(d.n, 1)) }
	fmt.Fprintf(&b, "| 7b | disk per queued ~%d B event (%d queued, depth %d), after a clean stop (live: %.0f B allocated) | none (absolute) | %.0f B allocated (%.0f B apparent) | - | ≤ 3072 B | %s |\n",
		d.eventBytes, d.n, d.depth, per(d.liveAlloc), per(d.closedAlloc), per(d.closedApparent), verdict(d.n > 0 && per(d.closedAlloc) <= 3072))
	if bare, ok := r.alloc("bare"); ok {
		if sh, ok := r.alloc("unmatched"); ok {
			da, db := sh.allocs-bare.allocs, sh.bytes-bare.bytes
			fmt.Fprintf(&b, "| 8 | allocations added per unmatched call (Go benchmark of Handler.ServeHTTP, -benchmem; %.0f ns/op vs %.0f ns/op) | the same loop without sidehook | %.0f allocs, %.0f B | exact | ≤ 4 allocs, ≤ 512 B | %s |\n",
				sh.ns, bare.ns, da, db, verdict(da <= 4 && db <= 512))
		}
		if sh, ok := r.alloc("matched"); ok {
			fmt.Fprintf(&b, "| info | allocations per matched-and-queued call (same benchmark, delivery paused; %.0f ns/op) | the same loop without sidehook | %.0f allocs, %.0f B | exact | - | - |\n",
				sh.ns, sh.allocs-bare.allocs, sh.bytes-bare.bytes)
		}
	}
	b.WriteString("\nRatios are candidate ÷ baseline, each pair run at the same time under identical loads (alternating which starts first); " +
		"the median of the pairs is the figure. Latencies are measured from the moment each request was due (open loop).\n")
	fmt.Fprintf(&b, "\nDelivering instance at the end: %+v\n", r.deliveredStats)
	if r.mem.runtime != "" {
		fmt.Fprintf(&b, "\nMemory figure, Go runtime at the end:\n\n```\n%s\n```\n", r.mem.runtime)
	}
	for _, f := range r.findings {
		fmt.Fprintf(&b, "\n- finding: %s", f)
	}
	if len(r.findings) > 0 {
		b.WriteString("\n")
	}
	for _, p := range r.profiles {
		fmt.Fprintf(&b, "\n### Profile: %s (%s)\n", p.name, strings.Join(p.files, ", "))
		if p.cpu != "" {
			fmt.Fprintf(&b, "\nCPU, flat:\n\n```\n%s```\n", trimPprof(p.cpu))
		}
		if p.cumCPU != "" {
			fmt.Fprintf(&b, "\nCPU, cumulative, stacks through sidehook only:\n\n```\n%s```\n", trimPprof(p.cumCPU))
		}
		if p.allocs != "" {
			fmt.Fprintf(&b, "\nMemory:\n\n```\n%s```\n", trimPprof(p.allocs))
		}
	}
	if r.allocsRaw != "" {
		fmt.Fprintf(&b, "\n### Handler benchmark output\n\n```\n%s```\n", r.allocsRaw)
	}
	if r.broken != "" {
		fmt.Fprintf(&b, "\n**Problems:** %s\n", r.broken)
	}
	return b.String()
}

// trimPprof drops pprof's header lines that name files and builds.
func trimPprof(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Type:") || strings.HasPrefix(l, "Time:") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
