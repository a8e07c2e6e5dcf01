package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

func numCPU() int { return runtime.NumCPU() }

// callBody is the one call every throughput and latency figure sends: identical bytes to every target.
var callBody = []byte(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":["s3ss10n-0123456789abcdef",1234,{"Person":{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com"}}],"id":1}`)

// batchBody is a JSON-RPC batch of n matched calls (ids 1..n), each padded with pad bytes of text: it builds
// backlogs n events per HTTP request.
func batchBody(n, pad int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	rng := rand.New(rand.NewPCG(uint64(n), uint64(pad)))
	for i := 1; i <= n; i++ {
		notes := randomText(rng, pad)
		if i > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":["s3ss10n-0123456789abcdef",%d,{"Person":{"firstName":"Ada","lastName":"Lovelace","notes":%q}}],"id":%d}`, 1000+i, notes, i)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// randomText is n characters of base64 alphabet from rng: padding that compresses no better than real text
// would (Badger compresses its blocks; a run of one letter would make the disk figure meaningless).
func randomText(rng *rand.Rand, n int) string {
	raw := make([]byte, n*3/4+3)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	return base64.StdEncoding.EncodeToString(raw)[:n]
}

// bench holds what the figures share: the fake upstream, the receiver, the instances under test.
type bench struct {
	o       options
	bin     string
	work    string
	outDir  string
	upAddr  string
	rcAddr  string
	rc      *receiver
	stopUp  func()
	stopRc  func()
	serving map[string]*instance // bare, bare2, unmatched, paused, delivered
	report  *report              // where stopServing files the instances' error logs
}

var sinkNames = []string{"none", "paused", "delivered", "drain", "plain", "disk", "mem"}

func newBench(o options, bin, work, outDir string, startServing bool) (*bench, error) {
	b := &bench{o: o, bin: bin, work: work, outDir: outDir, rc: &receiver{sinks: map[string]*sink{}}}
	for _, n := range sinkNames {
		b.rc.sinks[n] = &sink{}
	}
	var err error
	if b.upAddr, b.stopUp, err = serve(upstream()); err != nil {
		return nil, err
	}
	if b.rcAddr, b.stopRc, err = serve(b.rc); err != nil {
		return nil, err
	}
	b.serving = map[string]*instance{}
	if !startServing {
		return b, nil
	}
	logf("starting the instances (upstream %s, receiver %s)", b.upAddr, b.rcAddr)
	blocks := map[string]func(in *instance) string{
		"bare":  func(*instance) string { return "" },
		"bare2": func(*instance) string { return "" },
		"unmatched": func(in *instance) string {
			return sidehookBlock(filepath.Join(in.dir, "queue"), "VacancyService.update", b.hook("none"), "")
		},
		"paused": func(in *instance) string {
			return sidehookBlock(filepath.Join(in.dir, "queue"), "CandidateService.update", b.hook("paused"), "\t\t\tpaused")
		},
		"delivered": func(in *instance) string {
			return sidehookBlock(filepath.Join(in.dir, "queue"), "CandidateService.update", b.hook("delivered"), "\t\t\tworkers 16\n\t\t\tper_destination 8")
		},
	}
	for _, name := range []string{"bare", "bare2", "unmatched", "paused", "delivered"} {
		in, err := startInstance(name, bin, work, b.upAddr, blocks[name])
		if err != nil {
			b.close()
			return nil, err
		}
		b.serving[name] = in
	}
	if o.gcControl {
		in, err := startInstance(gcControlName, bin, work, b.upAddr, func(*instance) string { return "" }, "GOGC=1000")
		if err != nil {
			b.close()
			return nil, err
		}
		b.serving[gcControlName] = in
	}
	// Every instance answers once before anything is measured.
	for name, in := range b.serving {
		if ok, errs := fill(in.addr(), callBody, 200, 4); errs > 0 || ok != 200 {
			b.close()
			return nil, fmt.Errorf("%s does not answer the benchmark call: %d ok, %d errors (see %s)", name, ok, errs, filepath.Join(in.dir, "caddy.log"))
		}
	}
	return b, nil
}

// settleWait is how long a delivering instance gets to empty its queue after a load.
func (b *bench) settleWait() time.Duration {
	if b.o.short {
		return 10 * time.Second
	}
	return 30 * time.Second
}

func (b *bench) hook(name string) string { return fmt.Sprintf("http://%s/hook/%s", b.rcAddr, name) }

func (b *bench) stopServing() {
	for _, name := range []string{"bare", "bare2", "unmatched", "paused", "delivered", gcControlName} {
		if in := b.serving[name]; in != nil && b.report != nil {
			b.report.errorLog(in)
		}
	}
	var wg sync.WaitGroup
	for _, in := range b.serving {
		wg.Add(1)
		go func(in *instance) { defer wg.Done(); in.stop() }(in)
	}
	wg.Wait()
	b.serving = nil
}

func (b *bench) close() {
	b.stopServing()
	if b.stopUp != nil {
		b.stopUp()
	}
	if b.stopRc != nil {
		b.stopRc()
	}
}

// throughputAndLatency runs the paired figures 1-4 round by round, so that whatever the machine does during
// the run spreads over every figure alike, then profiles the hot path.
func (b *bench) throughputAndLatency(r *report) error {
	b.report = r
	bare := b.serving["bare"]
	cands := []struct{ key, name string }{{"aa", "bare2"}, {"unmatched", "unmatched"}, {"paused", "paused"}, {"delivered", "delivered"}}
	if b.o.gcControl {
		cands = append(cands, struct{ key, name string }{"gogc", gcControlName})
	}
	tput := map[string][]float64{}
	gc := newGCRates()
	cpu := newCallCPU()
	var deliveredLag []float64
	for i := 0; i < b.o.pairs; i++ {
		for _, c := range cands {
			in := b.serving[c.name]
			before := b.rc.sinks["delivered"].count.Load()
			gcBare, gcCand := bare.gcSampleOf(), in.gcSampleOf()
			cpuBare, cpuCand := processCPU(bare.cmd.Process.Pid), processCPU(in.cmd.Process.Pid)
			ra, rb, err := runPair(bare.addr(), in.addr(), callBody, b.o.conns, b.o.duration, i%2 == 0)
			if err != nil {
				return fmt.Errorf("throughput pair %s: %w", c.key, err)
			}
			cpu.add(c.key, processCPU(bare.cmd.Process.Pid)-cpuBare, processCPU(in.cmd.Process.Pid)-cpuCand, ra.OK, rb.OK)
			gc.add(c.key, gcBare, bare.gcSampleOf(), gcCand, in.gcSampleOf(), ra.OK, rb.OK)
			if ra.OK == 0 || rb.OK == 0 {
				r.broke(fmt.Sprintf("throughput %s: bare %d ok/%d errors, candidate %d ok/%d errors", c.key, ra.OK, ra.Errors, rb.OK, rb.Errors))
				continue
			}
			if ra.Errors > 0 || rb.Errors > 0 {
				// A failed call is sidehook's business (fail open), not the harness's: the pair counts, the
				// failure is reported with the instance's error log.
				r.finding(fmt.Sprintf("throughput pair %d %s: %d failed calls through %s (bare: %d); see its error log below", i+1, c.key, rb.Errors, c.name, ra.Errors))
			}
			ratio := rb.rate() / ra.rate()
			tput[c.key] = append(tput[c.key], ratio)
			logf("pair %d %-9s bare %7.0f/s  candidate %7.0f/s  ratio %.3f", i+1, c.key, ra.rate(), rb.rate(), ratio)
			if c.key == "delivered" {
				// Deliveries made during the pair, as a share of the calls: a queue that only grows would
				// flatter the ratio, so the table shows it. Then the backlog drains before the next pair.
				during := b.rc.sinks["delivered"].count.Load() - before
				deliveredLag = append(deliveredLag, float64(during)/float64(rb.OK))
				if st, err := in.waitDepth(0, b.settleWait()); err != nil {
					r.finding(fmt.Sprintf("pair %d: the delivering instance's backlog did not drain within %s after the load stopped (%v; stats %+v)", i+1, b.settleWait(), err, st))
				}
			}
		}
	}
	r.throughput = tput
	r.gc = gc
	r.callCPU = cpu
	r.deliveredShare = deliveredLag

	added := map[string][]float64{}
	rates := map[string][]float64{}
	for i := 0; i < b.o.pairs; i++ {
		for _, c := range cands[:3] {
			in := b.serving[c.name]
			start := make(chan struct{})
			var ra, rb openResult
			var wg sync.WaitGroup
			wg.Add(2)
			first, second := func() { defer wg.Done(); ra = openLoop(bare.addr(), callBody, b.o.latRate, b.o.latDuration, 16, start) },
				func() { defer wg.Done(); rb = openLoop(in.addr(), callBody, b.o.latRate, b.o.latDuration, 16, start) }
			if i%2 == 1 {
				first, second = second, first
			}
			go first()
			go second()
			time.Sleep(50 * time.Millisecond) // the workers are ready; start both clocks together
			close(start)
			wg.Wait()
			if len(ra.Latencies) == 0 || len(rb.Latencies) == 0 {
				r.broke(fmt.Sprintf("latency %s: %d/%d answers, %d errors", c.key, len(ra.Latencies), len(rb.Latencies), rb.Errors))
				continue
			}
			if ra.Errors > 0 || rb.Errors > 0 {
				r.finding(fmt.Sprintf("latency pair %d %s: %d failed calls through %s (bare: %d)", i+1, c.key, rb.Errors, c.name, ra.Errors))
			}
			pa, pb := percentile(ra.Latencies, 99), percentile(rb.Latencies, 99)
			d := float64(pb-pa) / float64(time.Millisecond)
			added[c.key] = append(added[c.key], d)
			rates[c.key] = append(rates[c.key], float64(pb)/float64(time.Millisecond))
			logf("latency %d %-9s p99 bare %6.2fms candidate %6.2fms added %+.2fms", i+1, c.key, float64(pa)/1e6, float64(pb)/1e6, d)
		}
	}
	r.addedP99 = added
	r.p99 = rates

	if b.o.profile > 0 {
		for _, name := range []string{"unmatched", "paused"} {
			if err := b.profileUnderLoad(r, b.serving[name]); err != nil {
				r.broke(fmt.Sprintf("profile %s: %v", name, err))
			}
		}
	}
	return nil
}

// profileUnderLoad takes a CPU profile of one instance through Caddy's admin /debug/pprof/ while it is loaded
// alone, and keeps pprof's top entries for the report.
func (b *bench) profileUnderLoad(r *report, in *instance) error {
	logf("profiling %s for %s", in.name, b.o.profile)
	l, err := newClosedLoad(in.addr(), callBody, b.o.conns)
	if err != nil {
		return err
	}
	defer l.close()
	var res loadResult
	var wg sync.WaitGroup
	wg.Add(1)
	start := make(chan struct{})
	l.run(start, b.o.profile+time.Second, &res, &wg)
	close(start)
	cpu := filepath.Join(b.outDir, "cpu-"+in.name+".pprof")
	ferr := in.fetch(fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(b.o.profile.Seconds()+0.5)), cpu)
	wg.Wait()
	if ferr != nil {
		return ferr
	}
	allocs := filepath.Join(b.outDir, "allocs-"+in.name+".pprof")
	if err := in.fetch("/debug/pprof/allocs", allocs); err != nil {
		return err
	}
	top := pprofTop
	r.profiles = append(r.profiles, profile{
		name:   in.name,
		cpu:    top(b.bin, cpu),
		cumCPU: top("-cum", "-show=sidehook/sidehook", b.bin, cpu),
		allocs: top("-sample_index=alloc_space", b.bin, allocs),
		files:  []string{cpu, allocs},
	})
	return nil
}

func pprofTop(args ...string) string {
	cmd := exec.Command("go", append([]string{"tool", "pprof", "-top", "-nodecount=18"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("pprof failed: %v\n%s", err, out)
	}
	return string(out)
}

// callToDelivery sends matched calls at a fixed rate to the delivering instance and measures, in the
// receiver, arrival time minus the body's "time".
func (b *bench) callToDelivery(r *report) error {
	b.report = r
	in := b.serving["delivered"]
	s := b.rc.sinks["delivered"]
	if st, err := in.waitDepth(0, b.settleWait()); err != nil {
		r.finding(fmt.Sprintf("before call-to-delivery: backlog not drained (%v; stats %+v)", err, st))
	}
	logf("call-to-delivery at %d calls/s for %s", b.o.c2dRate, b.o.c2dDuration)
	s.start(true)
	start := make(chan struct{})
	close(start)
	var prof sync.WaitGroup
	if b.o.profile > 0 {
		// The delivering instance's CPU while it keeps up (or not) with the fixed rate.
		prof.Add(1)
		go func() {
			defer prof.Done()
			cpu := filepath.Join(b.outDir, "cpu-c2d.pprof")
			secs := max(1, int(min(b.o.profile, b.o.c2dDuration).Seconds()))
			if err := in.fetch(fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), cpu); err != nil {
				r.broke(fmt.Sprintf("profile c2d: %v", err))
				return
			}
			r.profiles = append(r.profiles, profile{name: fmt.Sprintf("delivered instance during the call-to-delivery run (%d calls/s)", b.o.c2dRate),
				cpu: pprofTop(b.bin, cpu), cumCPU: pprofTop("-cum", "-show=sidehook/sidehook", b.bin, cpu), files: []string{cpu}})
		}()
	}
	res := openLoop(in.addr(), callBody, b.o.c2dRate, b.o.c2dDuration, 64, start)
	prof.Wait()
	sent := len(res.Latencies)
	deadline := time.Now().Add(60 * time.Second)
	for s.count.Load() < int64(sent) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	_, lat := s.snapshot()
	s.start(false)
	if st, err := in.stats(); err == nil {
		r.deliveredStats = st
	}
	if len(lat) == 0 {
		r.broke("call-to-delivery: no delivery carried a readable time")
		return nil
	}
	over := 0
	for _, l := range lat {
		if l > 250*time.Millisecond {
			over++
		}
	}
	r.c2d = c2dResult{sent: sent, errors: res.Errors, delivered: len(lat), over250: over,
		p50: percentile(lat, 50), p99: percentile(lat, 99), p999: percentile(lat, 99.9), max: percentile(lat, 100), callP99: percentile(res.Latencies, 99)}
	logf("call-to-delivery: %d calls, %d delivered, p50 %s p99 %s p99.9 %s max %s, %d over 250ms", sent, len(lat), r.c2d.p50, r.c2d.p99, r.c2d.p999, r.c2d.max, over)
	return nil
}

// drainConcurrency is the per_destination of the drain figure and the plain client's connections; the
// queue package's drain benchmarks (figure 5b) use the same.
const drainConcurrency = 8

// drain compares how fast sidehook empties a backlog into a local receiver with a plain Go client POSTing
// bodies of the same shape to the same receiver, both at the same time and with the same concurrency; each
// rate is counted over the window in which both were running.
func (b *bench) drain(r *report) error {
	const perDest = drainConcurrency
	var in *instance
	paused := true
	block := func(in *instance) string {
		lines := fmt.Sprintf("\t\t\tworkers 16\n\t\t\tper_destination %d", perDest)
		if paused {
			lines += "\n\t\t\tpaused"
		}
		return sidehookBlock(filepath.Join(in.dir, "queue"), "CandidateService.update", b.hook("drain"), lines)
	}
	in, err := startInstance("drain", b.bin, b.work, b.upAddr, block)
	if err != nil {
		return err
	}
	defer in.stop()
	defer r.errorLog(in)
	batch := batchBody(100, 0)
	bodies := plainBodies(b.o.drainN)
	for p := 0; p < b.o.drainPairs; p++ {
		paused = true
		if err := in.reload(in.caddyfile(b.upAddr, block(in))); err != nil {
			return err
		}
		logf("drain %d: queueing %d events", p+1, b.o.drainN)
		if ok, errs := fill(in.addr(), batch, b.o.drainN/100, 4); errs > 0 {
			r.broke(fmt.Sprintf("drain fill: %d ok, %d errors", ok, errs))
			return nil
		}
		st, err := in.stats()
		if err != nil || st.Depth < uint64(b.o.drainN) {
			r.broke(fmt.Sprintf("drain: queue depth %d after queueing %d (%v)", st.Depth, b.o.drainN, err))
			return nil
		}
		sd, sp := b.rc.sinks["drain"], b.rc.sinks["plain"]
		sd.start(true)
		sp.start(true)
		paused = false
		t0 := time.Now()
		// How the two cores are shared while both compete: sidehook's process, and this one (the receiver,
		// which serves both sides, and the plain client), from the start until the plain client is done.
		cpuSide0, cpuSelf0 := processCPU(in.cmd.Process.Pid), processCPU(os.Getpid())
		var cpuSide, cpuSelf time.Duration
		var plainDone time.Time
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			postAll(b.hook("plain"), bodies, perDest)
			plainDone = time.Now()
			cpuSide, cpuSelf = processCPU(in.cmd.Process.Pid)-cpuSide0, processCPU(os.Getpid())-cpuSelf0
		}()
		if err := in.reload(in.caddyfile(b.upAddr, block(in))); err != nil {
			return err
		}
		// The last pair is profiled: its queue holds the logs of every earlier pair, like a queue in use.
		if p == b.o.drainPairs-1 && b.o.profile > 0 {
			cpu := filepath.Join(b.outDir, "cpu-drain.pprof")
			if err := in.fetch(fmt.Sprintf("/debug/pprof/profile?seconds=%d", max(1, int(b.o.profile.Seconds()/2))), cpu); err != nil {
				r.broke(fmt.Sprintf("profile drain: %v", err))
			} else {
				r.profiles = append(r.profiles, profile{name: "drain (delivery workers emptying the backlog, last pair)", cpu: pprofTop(b.bin, cpu),
					cumCPU: pprofTop("-cum", "-show=sidehook/sidehook", b.bin, cpu), files: []string{cpu}})
			}
		}
		deadline := time.Now().Add(10 * time.Minute)
		for sd.count.Load() < int64(b.o.drainN) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		wg.Wait()
		ad, _ := sd.snapshot()
		ap, _ := sp.snapshot()
		sd.start(false)
		sp.start(false)
		if len(ad) == 0 || len(ap) == 0 {
			r.broke("drain: no deliveries")
			return nil
		}
		// Each side's rate counts from its own first delivery (sidehook's includes the reload that unpauses
		// it) up to the moment the faster side finished: the window in which both were competing.
		end := minTime(lastOf(ad), lastOf(ap))
		fd, fp := firstOf(ad), firstOf(ap)
		nd, np := countUntil(ad, end), countUntil(ap, end)
		rd := float64(nd) / max(end.Sub(fd).Seconds(), 1e-3)
		rp := float64(np) / max(end.Sub(fp).Seconds(), 1e-3)
		window := end.Sub(t0).Seconds()
		ratio := rd / rp
		r.drainRatio = append(r.drainRatio, ratio)
		r.drainRates = append(r.drainRates, [2]float64{rd, rp})
		shared := plainDone.Sub(t0).Seconds()
		r.drainCores = append(r.drainCores, [2]float64{cpuSide.Seconds() / shared, cpuSelf.Seconds() / shared})
		logf("drain %d: sidehook %d, plain client %d in the shared %.2fs: %.0f/s vs %.0f/s, ratio %.3f (sidehook: first delivery %.0f ms after the unpause, all %d in %.2fs; cores used until the plain client was done: sidehook %.2f, receiver and plain client %.2f)",
			p+1, nd, np, window, rd, rp, ratio, fd.Sub(t0).Seconds()*1000, len(ad), lastOf(ad).Sub(t0).Seconds(), cpuSide.Seconds()/shared, cpuSelf.Seconds()/shared)
	}
	return nil
}

// plainBodies are OTYS-shaped webhook bodies like the ones sidehook posts, distinct ids.
func plainBodies(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"id":"msg_%024d","time":"%s","event":"CandidateService.update","webhook":{"uid":"static_0123456789abcdef01234567","url":"http://127.0.0.1/hook/plain"},"user":{"clientId":"","internalId":""},"request":{"method":"Otys.Services.CandidateService.update","args":["s3ss10n-0123456789abcdef",%d,{"Person":{"firstName":"Ada","lastName":"Lovelace","notes":""}}]},"result":{"ok":true}}`,
			i, time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), 1000+i%100)
	}
	return out
}

// postAll is the plain Go client of the drain baseline: conc goroutines POSTing the bodies in order.
func postAll(url string, bodies [][]byte, conc int) {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := next.Add(1) - 1
				if j >= int64(len(bodies)) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[j]))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("webhook-id", fmt.Sprintf("msg_%d", j))
				resp, err := client.Do(req)
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
}

func lastOf(ts []time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

func firstOf(ts []time.Time) time.Time {
	m := ts[0]
	for _, t := range ts {
		if t.Before(m) {
			m = t
		}
	}
	return m
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func countUntil(ts []time.Time, end time.Time) int {
	n := 0
	for _, t := range ts {
		if !t.After(end) {
			n++
		}
	}
	return n
}

// memory queues memN events for a receiver that is down (a closed port: every attempt is refused and
// rescheduled) and watches the resident set of the process.
func (b *bench) memory(r *report) error {
	down, err := freePort()
	if err != nil {
		return err
	}
	in, err := startInstance("mem", b.bin, b.work, b.upAddr, func(in *instance) string {
		return sidehookBlock(filepath.Join(in.dir, "queue"), "CandidateService.update",
			fmt.Sprintf("http://127.0.0.1:%d/hook/mem", down), "\t\t\tworkers 16\n\t\t\tper_destination 8")
	})
	if err != nil {
		return err
	}
	defer in.stop()
	defer r.errorLog(in)
	logf("memory: queueing %d events, receiver down", b.o.memN)
	rss0, _ := in.memory()
	stopSampling := make(chan struct{})
	// peak is the highest resident set seen at any time (VmHWM included); queued the highest once every
	// event was queued, which is what the bar is about: memory with 1M events queued, receiver down.
	var peak, peakAnon, queued atomic.Int64
	var filled atomic.Bool
	peakHeap := filepath.Join(b.outDir, "heap-mem-peak.pprof")
	var lastPeakHeap time.Time
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				m := in.memoryDetail()
				if b.o.memTrace {
					logf("trace anon %d file %d hwm %d", m.anon>>20, m.file>>20, m.hwm>>20)
				}
				if m.rss > peak.Load() {
					peak.Store(m.rss)
				}
				if filled.Load() && m.rss > queued.Load() {
					queued.Store(m.rss)
				}
				if m.anon > peakAnon.Load() {
					peakAnon.Store(m.anon)
					// The in-use heap near the anonymous peak, at most once a second: the heap at the
					// end shows what stays, this one what the filling costs.
					if b.o.profile > 0 && time.Since(lastPeakHeap) > time.Second {
						lastPeakHeap = time.Now()
						_ = in.fetch("/debug/pprof/heap", peakHeap)
					}
				}
			}
		}
	}()
	t0 := time.Now()
	batch := batchBody(100, 0)
	ok, errs := fill(in.addr(), batch, b.o.memN/100, 4)
	fillTime := time.Since(t0)
	filled.Store(true)
	settle := 10 * time.Second
	if b.o.short {
		settle = 2 * time.Second
	}
	time.Sleep(settle)
	close(stopSampling)
	detail := in.memoryDetail()
	rss, hwm := detail.rss, detail.hwm
	mapped := in.mappedByKind()
	st, serr := in.stats()
	if errs > 0 || serr != nil {
		r.broke(fmt.Sprintf("memory fill: %d ok, %d errors, stats %v", ok, errs, serr))
	}
	if b.o.profile > 0 {
		heap := filepath.Join(b.outDir, "heap-mem.pprof")
		if err := in.fetch("/debug/pprof/heap", heap); err == nil {
			r.profiles = append(r.profiles, profile{name: fmt.Sprintf("memory figure: in-use heap with %d events queued, receiver down", b.o.memN),
				allocs: pprofTop("-sample_index=inuse_space", b.bin, heap), files: []string{heap}})
		}
		if _, err := os.Stat(peakHeap); err == nil {
			r.profiles = append(r.profiles, profile{name: fmt.Sprintf("memory figure: in-use heap near the anonymous peak (%d MiB) while queueing", peakAnon.Load()>>20),
				allocs: pprofTop("-sample_index=inuse_space", b.bin, peakHeap), files: []string{peakHeap}})
		}
		if rt, err := in.get("/debug/pprof/heap?debug=1"); err == nil {
			r.mem.runtime = memStatsLines(rt)
		}
	}
	r.mem = memResult{runtime: r.mem.runtime, n: b.o.memN, depth: st.Depth, failed: st.Failed, rssStart: rss0, rss: max(rss, queued.Load()), anon: detail.anon, file: detail.file, peakAnon: peakAnon.Load(), settle: settle, peak: max(peak.Load(), hwm), fill: fillTime}
	logf("memory: mapped file pages resident at the end: tables %d MiB, value logs %d MiB, memtable logs %d MiB, other files %d MiB",
		mapped[".sst"]>>20, mapped[".vlog"]>>20, mapped[".mem"]>>20, mapped["other"]>>20)
	logf("memory: %d queued in %s, depth %d, RSS %d MiB (anonymous %d MiB, file pages %d MiB; peak %d MiB, anonymous peak %d MiB)", b.o.memN, fillTime.Round(time.Second), st.Depth, rss>>20, detail.anon>>20, detail.file>>20, r.mem.peak>>20, r.mem.peakAnon>>20)
	return nil
}

// disk queues diskN events of about 2 KiB each (delivery paused) and divides the queue's disk usage by the
// count: live, and after a clean stop (Badger flushes its memtable and truncates its files).
func (b *bench) disk(r *report) error {
	in, err := startInstance("disk", b.bin, b.work, b.upAddr, func(in *instance) string {
		return sidehookBlock(filepath.Join(in.dir, "queue"), "CandidateService.update", b.hook("disk"), "\t\t\tpaused")
	})
	if err != nil {
		return err
	}
	defer in.stop()
	// One call padded so that its webhook body is about 2 KiB: ~1.7 KiB of notes plus envelope, request and result.
	const perBatch = 20
	batch := batchBody(perBatch, 1700)
	n := b.o.diskN / perBatch * perBatch
	logf("disk: queueing %d events of ~2 KiB", n)
	ok, errs := fill(in.addr(), batch, n/perBatch, 4)
	if errs > 0 {
		r.broke(fmt.Sprintf("disk fill: %d ok, %d errors", ok, errs))
	}
	st, _ := in.stats()
	qdir := filepath.Join(in.dir, "queue")
	liveAlloc, liveApp := diskUsage(qdir)
	in.stop()
	closedAlloc, closedApp := diskUsage(qdir)
	r.disk = diskResult{n: n, depth: st.Depth, eventBytes: webhookBodySize(1700), liveAlloc: liveAlloc, liveApparent: liveApp, closedAlloc: closedAlloc, closedApparent: closedApp}
	logf("disk: depth %d, live %d KiB allocated, after stop %d KiB allocated (%d B/event)", st.Depth, liveAlloc>>10, closedAlloc>>10, closedAlloc/int64(max(n, 1)))
	return nil
}

// webhookBodySize estimates the body sidehook would post for one padded call of the disk figure.
func webhookBodySize(pad int) int {
	b := plainBodies(1)[0]
	return len(b) + pad
}

var _ = os.Getpid
