// Command bench is sidehook's benchmark harness: it measures every speed and size bar (bench/README.md), each
// against its baseline measured in the same run, with an A/A control that says when the machine was too
// noisy for the ratios to mean anything.
//
//	go run ./bench            # full run (about 15 minutes on 2 cores)
//	go run ./bench -short     # CI: checks that the harness works, in well under 3 minutes
//
// See bench/README.md for what each figure means.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

type options struct {
	short       bool
	pairs       int
	duration    time.Duration
	latDuration time.Duration
	latRate     int
	conns       int
	drainN      int
	drainPairs  int
	memN        int
	diskN       int
	c2dDuration time.Duration
	c2dRate     int
	profile     time.Duration
	allocs      bool
	memTrace    bool
	gcControl   bool
	out         string
	dir         string
	keep        bool
	only        string
}

// want reports whether a figure group is part of this run (-only).
func (o *options) want(group string) bool {
	if o.only == "" {
		return true
	}
	for _, g := range strings.Split(o.only, ",") {
		if strings.TrimSpace(g) == group {
			return true
		}
	}
	return false
}

func main() {
	var o options
	flag.BoolVar(&o.short, "short", false, "CI mode: small counts and short runs; checks the harness works, not speed")
	flag.IntVar(&o.pairs, "pairs", 0, "baseline/candidate pairs per throughput and latency figure (default 8, short 2)")
	flag.DurationVar(&o.duration, "duration", 0, "length of one throughput pair (default 8s, short 1.5s)")
	flag.DurationVar(&o.latDuration, "lat-duration", 0, "length of one latency pair (default 5s, short 1s)")
	flag.IntVar(&o.latRate, "lat-rate", 500, "requests/s per target in the latency pairs")
	flag.IntVar(&o.conns, "conns", 16, "connections per target in the throughput pairs")
	flag.IntVar(&o.drainN, "drain", 0, "events in the backlog-drain figure (default 100000, short 5000)")
	flag.IntVar(&o.drainPairs, "drain-pairs", 0, "backlog-drain pairs (default 3, short 1)")
	flag.IntVar(&o.memN, "mem", 0, "events queued for the memory figure (default 1000000, short 20000)")
	flag.IntVar(&o.diskN, "disk", 0, "2 KiB events queued for the disk figure (default 50000, short 2000)")
	flag.DurationVar(&o.c2dDuration, "c2d-duration", 0, "length of the call-to-delivery run (default 20s, short 3s)")
	flag.IntVar(&o.c2dRate, "c2d-rate", 1000, "matched calls/s in the call-to-delivery run")
	flag.DurationVar(&o.profile, "profile", 0, "CPU profile length per profiled instance, 0 = default (10s, short 2s), negative = none")
	flag.BoolVar(&o.memTrace, "mem-trace", false, "print the memory figure's anonymous and mapped-file resident sizes every 250 ms")
	flag.BoolVar(&o.gcControl, "gc-control", false, "also pair bare reverse_proxy run with GOGC=1000 against bare (info row: how much of figure 1 a rarer GC alone gives)")
	flag.BoolVar(&o.allocs, "allocs", true, "run the handler's allocation benchmark (go test -bench)")
	flag.StringVar(&o.out, "out", "", "also write the results (markdown) to this file; profiles go next to it")
	flag.StringVar(&o.dir, "dir", "", "work directory (default: a fresh temporary one, removed at the end)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory")
	flag.StringVar(&o.only, "only", "", "run only these figure groups, comma-separated: allocs,paired,c2d,drain,mem,disk (default: all)")
	flag.Parse()
	o.defaults()

	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		fmt.Fprintln(os.Stderr, "interrupted: stopping the instances")
		stopAll()
		os.Exit(130)
	}()
	err := run(o)
	stopAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func (o *options) defaults() {
	pick := func(full, short any) any {
		if o.short {
			return short
		}
		return full
	}
	if o.pairs <= 0 {
		o.pairs = pick(8, 2).(int)
	}
	if o.duration <= 0 {
		o.duration = pick(8*time.Second, 1500*time.Millisecond).(time.Duration)
	}
	if o.latDuration <= 0 {
		o.latDuration = pick(5*time.Second, time.Second).(time.Duration)
	}
	if o.drainN <= 0 {
		o.drainN = pick(100000, 5000).(int)
	}
	if o.drainPairs <= 0 {
		o.drainPairs = pick(3, 1).(int)
	}
	if o.memN <= 0 {
		o.memN = pick(1000000, 20000).(int)
	}
	if o.diskN <= 0 {
		o.diskN = pick(50000, 2000).(int)
	}
	if o.c2dDuration <= 0 {
		o.c2dDuration = pick(20*time.Second, 3*time.Second).(time.Duration)
	}
	if o.profile == 0 {
		o.profile = pick(10*time.Second, 2*time.Second).(time.Duration)
	}
}

// The processes this run started, stopped on every way out.
var (
	procMu sync.Mutex
	procs  = map[*instance]bool{}
)

func trackProcess(in *instance)   { procMu.Lock(); procs[in] = true; procMu.Unlock() }
func untrackProcess(in *instance) { procMu.Lock(); delete(procs, in); procMu.Unlock() }

func stopAll() {
	procMu.Lock()
	list := make([]*instance, 0, len(procs))
	for in := range procs {
		list = append(list, in)
	}
	procMu.Unlock()
	var wg sync.WaitGroup
	for _, in := range list {
		wg.Add(1)
		go func(in *instance) { defer wg.Done(); in.stop() }(in)
	}
	wg.Wait()
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// moduleRoot is the directory of the sidehook module, wherever the command is started from inside it.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run the harness inside the sidehook module")
	}
	return filepath.Dir(gomod), nil
}

func run(o options) error {
	start := time.Now()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	work := o.dir
	if work == "" {
		if work, err = os.MkdirTemp("", "sidehook-bench-"); err != nil {
			return err
		}
		if !o.keep {
			defer os.RemoveAll(work)
		}
	}
	outDir := work
	if o.out != "" {
		outDir = filepath.Dir(o.out)
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return err
		}
	}

	logf("building the binary")
	bin := filepath.Join(work, "sidehook")
	build := exec.Command("go", "build", "-o", bin, "./cmd/sidehook")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/sidehook: %w", err)
	}

	r := &report{opts: o, machine: machine(), steal: map[string]float64{}}
	whole := startSteal()
	if o.allocs && o.want("allocs") {
		logf("allocation benchmark of the handler")
		if err := r.allocBench(root, o.short); err != nil {
			return err
		}
	}

	if o.want("drain") {
		logf("drain CPU benchmarks (figure 5b)")
		if err := r.drainCPU(root, o.short); err != nil {
			return err
		}
	}

	b, err := newBench(o, bin, work, outDir, o.want("paired") || o.want("c2d"))
	if err != nil {
		return err
	}
	defer b.close()
	steps := []struct {
		group string
		run   func(*report) error
	}{{"paired", b.throughputAndLatency}, {"c2d", b.callToDelivery}, {"", func(*report) error { b.stopServing(); return nil }},
		{"drain", b.drain}, {"mem", b.memory}, {"disk", b.disk}}
	for _, st := range steps {
		if st.group == "" || o.want(st.group) {
			m := startSteal()
			if err := st.run(r); err != nil {
				return err
			}
			if st.group != "" {
				r.steal[st.group] = m.share()
			}
		}
	}
	r.steal["run"] = whole.share()
	r.elapsed = time.Since(start)
	text := r.markdown()
	fmt.Println(text)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(text), 0o644); err != nil {
			return err
		}
	}
	if r.broken != "" {
		return fmt.Errorf("the harness did not produce every figure: %s", r.broken)
	}
	return nil
}

// machine describes where the numbers were taken.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				model = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	kernel, _ := exec.Command("uname", "-r").Output()
	gov, _ := exec.Command("go", "version").Output()
	return fmt.Sprintf("%s, %d cores visible, Linux %s, %s", model, numCPU(), strings.TrimSpace(string(kernel)), strings.TrimSpace(string(gov)))
}
