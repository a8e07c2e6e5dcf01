//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// The phases of the faults soak a call can live through. A call is stamped with the phase at its start and at
// its end: one whose life overlaps the time the disk was full may have been dropped (and must then be counted
// as dropped), every other answered call must be delivered.
const (
	phaseDiskFree  int32 = iota // before the filler is written
	phaseDiskFull               // the filler leaves only a little space on queue_dir's filesystem
	phaseDiskFreed              // the filler is deleted, but no call made since has been seen delivered yet
	phaseResumed                // a call made after the filler was deleted has been delivered
)

// diskFullDropsSeries is the counter sidehook keeps for the events it drops because queue_dir's filesystem is
// full (the call itself passes through).
const diskFullDropsSeries = `caddy_sidehook_events_dropped_total{reason="disk_full"}`

// faultsSoakPlan sizes the faults soak: reduced for CI by default, full with SIDEHOOK_SOAK=1.
type faultsSoakPlan struct {
	clients         int
	callsBeforeKill int // calls made until the SIGKILL (the reloads and aborts among them)
	callsBeforeFill int // calls made after the restart, before the disk is filled
	callsWhileFull  int // calls made while the disk is full
	callsAfterFree  int // calls made once firing resumed (the other reloads and aborts among them)
	reloads         int
	aborts          int   // half upstreams breaking mid-body, half clients hanging up mid-response
	abortedSize     int   // result size of an aborted call
	finalSize       int   // result size of the last call, which must still fire after all the aborts
	minResult       int   // bytes of a normal call's result, at least
	maxResult       int   // and at most
	tmpfsMiB        int   // size of queue_dir's filesystem
	leaveFree       int64 // bytes the filler leaves free
}

func newFaultsSoakPlan() faultsSoakPlan {
	return faultsSoakPlan{
		clients:         4,
		callsBeforeKill: soakSize(500, 2500),
		callsBeforeFill: soakSize(200, 1000),
		callsWhileFull:  soakSize(150, 600),
		callsAfterFree:  soakSize(400, 2000),
		reloads:         soakSize(10, 20),
		aborts:          soakSize(200, 1000),
		abortedSize:     256 << 10,
		finalSize:       256 << 10,
		minResult:       10 << 10,
		maxResult:       40 << 10,
		// Not smaller: a queue keeps room for what Badger may write by itself (its next 16 MiB value log and
		// WAL, memtable flushes and the compactions after them: about 210 MiB with the queue's options) before
		// it stores an event, and the soak's own events take 20–30 MiB (90 in the full form). A tmpfs lives
		// in memory: this much is taken while the filler is there.
		tmpfsMiB:  soakSize(320, 512),
		leaveFree: 2 << 20,
	}
}

// The soak, in CI's reduced form: several clients make matched calls with 10–40 KB results on the
// real binary whose queue_dir is a small real tmpfs, while the config is reloaded ~10 times, ~200 responses
// are aborted (the upstream breaking mid-body, the client hanging up mid-response), the process is SIGKILLed
// once and restarted on the same queue_dir, and the disk fills (a filler file) and frees. At the end the
// process is alive and answering, every answered call was delivered at least once except those made while
// the disk was full, whose missing deliveries the disk_full drop counter must account for, answers were
// byte-identical to the upstream's, nothing died, and the hold budget has nothing left reserved. Duplicates
// are counted and logged: delivery is at least once. SIDEHOOK_SOAK=1 runs it about five times bigger.
func TestFaultsSoakDeliversEveryAnsweredCall(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the faults soak mounts a tmpfs for queue_dir, which needs root (CI runs as root)")
	}
	plan := newFaultsSoakPlan()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, plan %+v", seed, plan)
	begin := time.Now()

	up := newSoakUpstream(t)
	ids := &webhookIDs{accepted: map[string]int{}, perKey: map[string]map[string]bool{}}
	w := &hookWorld{t: t, home: t.TempDir(), site: freeAddr(t), admin: freeAddr(t), api: up.addr, recv: ids.newTally(t, freeAddr(t))}
	// A few deliveries fail, so that retries are part of the mix.
	var decideMu sync.Mutex
	decideRng := rand.New(rand.NewPCG(seed, 0xfa17))
	w.recv.setDecide(func() int {
		decideMu.Lock()
		defer decideMu.Unlock()
		if decideRng.IntN(100) < 5 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	mountSoakTmpfs(t, w.queueDir(), plan.tmpfsMiB)

	config := 0 // which delivery variant is loaded; reloads alternate between two so each one is a change
	proc := w.start(faultsSoakDelivery(config))
	procs := []*process{proc} // every process the soak ran, for what they logged
	var drops counterAcrossResets

	tr := newSoakTraffic(w, plan)
	stop := make(chan struct{})
	var clients sync.WaitGroup
	for c := range plan.clients {
		clients.Add(1)
		go func() { defer clients.Done(); tr.run(c, seed, stop) }()
	}
	stopTraffic := sync.OnceFunc(func() { close(stop); clients.Wait() })
	t.Cleanup(stopTraffic)

	// must ends the test when a wait failed, saying how the process died if it did.
	must := func(err error) {
		t.Helper()
		if err != nil {
			stopTraffic()
			t.Fatal(err)
		}
	}
	// calls lets the clients make n more calls, runs action (if any) once half of them are done, so that calls
	// are in flight while it runs, and waits for all of them. The traffic is bounded by calls, not by time, so
	// that the space it takes on the tmpfs does not depend on the machine's speed.
	calls := func(n int, what string, action func()) {
		t.Helper()
		target := tr.grant(n)
		if action != nil {
			must(waitOrDeath(proc, time.Minute, func() bool { return tr.finished.Load() >= target-int64(n/2) }, what))
			action()
		}
		must(waitOrDeath(proc, time.Minute, func() bool { return tr.finished.Load() >= target }, what))
	}
	sampleDrops := func() {
		if v, ok := w.metricValue(diskFullDropsSeries); ok {
			drops.observe(v)
		}
	}
	reload := func() {
		t.Helper()
		sampleDrops() // the counters start again at zero in the new config
		config++
		if err := w.postLoad(faultsSoakDelivery(config)); err != nil {
			t.Errorf("reload %d: %v", config, err)
			return
		}
		drops.restarted()
	}
	reloadsBefore := plan.reloads / 2
	abortsBefore := plan.aborts / 2

	// Part 1: traffic, half the reloads and half the aborts; then SIGKILL and a restart on the same queue_dir.
	step := plan.callsBeforeKill / (reloadsBefore + 2)
	for range reloadsBefore {
		calls(step, "calls around a reload", reload)
	}
	calls(step, "calls around the aborts", func() {
		for i := range abortsBefore {
			tr.abort(up, i)
		}
	})
	calls(step, "calls around the SIGKILL", func() {
		sampleDrops()
		s, _ := w.statsJSON()
		losses := w.lossCounters()
		proc.kill()
		drops.restarted()
		t.Logf("SIGKILL after %d answered calls, %d aborts, %d reloads; stats before: %s; since the last reload: %s",
			tr.answered(), abortsBefore, config, s, losses)
		proc = w.start(faultsSoakDelivery(config))
		procs = append(procs, proc)
	})

	// Part 2: the disk fills and frees while the traffic goes on.
	calls(plan.callsBeforeFill, "calls before the disk fill", nil)
	used := diskUsage(t, w.queueDir(), "")
	filler := soakFillDisk(t, w.queueDir(), plan.leaveFree)
	tr.phase.Store(phaseDiskFull)
	t.Logf("disk filled after %d answered calls: queue_dir used %d KiB, %d KiB free left", tr.answered(), used>>10, soakFreeBytes(t, w.queueDir())>>10)
	target := tr.grant(plan.callsWhileFull)
	diedWhileFull := false
	err := waitOrDeath(proc, time.Minute, func() bool { return tr.finished.Load() >= target }, "calls while the disk is full")
	if err == nil && processExited(proc) { // calls fail fast once it is gone: their count alone does not tell
		err = errors.New(deathReport(proc))
	}
	if err != nil {
		if !processExited(proc) {
			must(err)
		}
		// Carry on without it, so that one run shows every part that fails.
		t.Errorf("while queue_dir's filesystem was full: %v", err)
		diedWhileFull = true
	} else {
		sampleDrops()
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	tr.phase.Store(phaseDiskFreed)
	if diedWhileFull {
		proc = w.start(faultsSoakDelivery(config))
		procs = append(procs, proc)
		drops.restarted()
	}
	// The clients go on, a few calls at a time, until one made since the filler went is delivered.
	must(waitOrDeath(proc, time.Minute, func() bool {
		if tr.finished.Load() >= tr.allowedCalls() {
			tr.grant(plan.clients)
		}
		return tr.deliveredSince(phaseDiskFreed)
	}, "a call made after the disk was freed to be delivered (firing resuming by itself)"))
	tr.phase.Store(phaseResumed)
	t.Logf("firing resumed after the filler was deleted")

	// Part 3: the other reloads and aborts, traffic still going; then the traffic stops. The aborts come after
	// the last reload, so that what they leak shows in the end's stats even where a reload brings a fresh
	// hold budget (a config's own).
	reloadsAfter := plan.reloads - reloadsBefore
	step = plan.callsAfterFree / (reloadsAfter + 1)
	for range reloadsAfter {
		calls(step, "calls around a reload", reload)
	}
	calls(step, "calls around the aborts", func() {
		for i := abortsBefore; i < plan.aborts; i++ {
			tr.abort(up, i)
		}
	})
	stopTraffic()

	// The end: the process is alive and answering.
	if processExited(proc) {
		t.Fatalf("sidehook is not alive at the end: %s", deathReport(proc))
	}
	// A matched call with a 256 KiB answer still fires: the aborts left the hold budget room for it.
	if err := tr.call("soak-final", plan.finalSize, phaseResumed); err != nil {
		t.Errorf("a last call after the soak: %v", err)
	}
	if _, ok := w.statsJSON(); !ok {
		t.Errorf("the admin API does not answer /sidehook/stats at the end")
	}

	// Every answered call outside the disk-full window is delivered. What the process counts as not fired
	// (since the last reload) tells why, when one is not.
	t.Logf("at the end, since the last reload: %s; the processes logged %s", w.lossCounters(), droppedEventLines(procs))
	// Once the queue is empty (failed attempts wait in it for their retry), an event not delivered never will be.
	must(waitOrDeath(proc, time.Minute, func() bool {
		s, ok := w.stats()
		return ok && s.Depth+s.InFlight == 0
	}, "the queue to drain"))
	sampleDrops()
	mustDeliver, mayDrop := tr.split()
	if lost := w.recv.undelivered(mustDeliver); len(lost) > 0 {
		t.Errorf("%d of %d answered calls made outside the disk-full window were never delivered, e.g. %v",
			len(lost), len(mustDeliver), lost[:min(len(lost), 10)])
	}

	// Those made while the disk was full were delivered or counted as dropped.
	missing := len(w.recv.undelivered(mayDrop))
	switch {
	case diedWhileFull:
		t.Logf("%d of %d calls answered around the disk fill were not delivered; not reconciled with %s (the process died)", missing, len(mayDrop), diskFullDropsSeries)
	case float64(missing) > drops.total:
		t.Errorf("%d calls answered while the disk was full were never delivered, but %s counts only %.0f drops", missing, diskFullDropsSeries, drops.total)
	default:
		t.Logf("%d calls answered while the disk was full: %d not delivered, %.0f counted by %s", len(mayDrop), missing, drops.total, diskFullDropsSeries)
	}

	// What the clients got was what the upstream sent.
	if altered := tr.alteredAnswers(); len(altered) > 0 {
		t.Errorf("%d 2xx answers differ from the upstream's bytes, e.g. %v", len(altered), altered[:min(len(altered), 5)])
	}

	// Nothing died, and the hold budget has nothing left reserved once the traffic is over.
	final, _ := w.statsJSON()
	if dead := gjson.GetBytes(final, "dead").Int(); dead != 0 {
		t.Errorf("%d events died", dead)
	}
	if !gjson.GetBytes(final, "budget_reserved_bytes").Exists() {
		t.Logf("/sidehook/stats has no budget_reserved_bytes yet; the hold budget's leak is not checked: %s", final)
	} else {
		var reserved int64
		err := waitOrDeath(proc, 15*time.Second, func() bool {
			s, ok := w.statsJSON()
			reserved = gjson.GetBytes(s, "budget_reserved_bytes").Int()
			return ok && reserved == 0
		}, "the hold budget to have nothing reserved")
		if err != nil {
			t.Errorf("%v: %d bytes still reserved with no call in flight", err, reserved)
		}
	}

	distinct, dups, requests, _ := w.recv.counts()
	idDups, twice := ids.duplicates()
	t.Logf("%d deliveries repeated a webhook-id already accepted (at least once allows them), e.g. %v", len(idDups), idDups[:min(len(idDups), 10)])
	if len(twice) > 0 {
		t.Errorf("%d calls became more than one event (distinct webhook-ids for one call), e.g. %v", len(twice), twice[:min(len(twice), 10)])
	}
	t.Logf("%d calls answered (%d must be delivered, %d around the disk fill), %d failed or cut off, %d aborted; "+
		"%d distinct events delivered, %d duplicates (%.2f%%) over %d delivery requests; %d aborted calls fired anyway; %s in all; final stats %s",
		tr.answered(), len(mustDeliver), len(mayDrop), tr.failedCount(), plan.aborts, distinct, dups,
		100*float64(dups)/float64(max(distinct, 1)), requests, tr.abortedDelivered(), time.Since(begin).Round(time.Millisecond), final)
}

// faultsSoakDelivery is one of two delivery configs, alternated by the reloads; fast retries so that every
// answered call can be delivered within the test.
func faultsSoakDelivery(variant int) string {
	workers := 8 + 4*(variant%2)
	return fmt.Sprintf("\t\t\tworkers %d\n\t\t\tper_destination %d\n\t\t\ttimeout 5s\n\t\t\tretry%s",
		workers, workers, strings.Repeat(" 100ms", 24))
}

// soakUpstream is a JSON-RPC API that answers `echo [key, n]` with [key, <n bytes>], byte for byte the same
// for the same key and n, so that a client can check its answer is exactly what the upstream sent. A third
// param breaks the answer: "break" sends three quarters of the body and closes the connection, "hang" sends
// three quarters and waits for the caller to go away. Three quarters of an aborted call's answer is what
// sidehook holds when the abort comes, and what a leak of the hold budget keeps each time.
type soakUpstream struct {
	addr string

	mu       sync.Mutex
	partSent map[string]chan struct{} // "hang" key -> closed once three quarters of its answer are out
}

func newSoakUpstream(t *testing.T) *soakUpstream {
	t.Helper()
	u := &soakUpstream{partSent: map[string]chan struct{}{}}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	u.addr = strings.TrimPrefix(srv.URL, "http://")
	return u
}

// soakAnswer is the upstream's answer to echo [key, n]: letters drawn from a generator seeded by the key, so
// that nothing on the way can compress it much.
func soakAnswer(key string, n int) []byte {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	var h uint64 = 14695981039346656037 // FNV-1a of the key
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * 1099511628211
	}
	rng := rand.New(rand.NewPCG(h, uint64(n)))
	pad := make([]byte, n)
	for i := range pad {
		pad[i] = letters[rng.IntN(len(letters))]
	}
	return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":1,"result":[%q,%q]}`, key, pad)
}

// expectPart registers a "hang" call before it is made; the channel closes once three quarters of its answer
// are out.
func (u *soakUpstream) expectPart(key string) chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	ch := make(chan struct{})
	u.partSent[key] = ch
	return ch
}

func (u *soakUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := gjson.GetBytes(body, "params.0").String()
	n := int(gjson.GetBytes(body, "params.1").Int())
	mode := gjson.GetBytes(body, "params.2").String()
	var answer []byte
	if mode == "" {
		answer = soakAnswer(key, n)
	} else { // never compared: cheap to make
		answer = fmt.Appendf(nil, `{"jsonrpc":"2.0","id":1,"result":[%q,%q]}`, key, strings.Repeat("x", n))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
	if mode == "" {
		_, _ = w.Write(answer)
		return
	}
	rc := http.NewResponseController(w)
	_, _ = w.Write(answer[:len(answer)*3/4])
	_ = rc.Flush()
	switch mode {
	case "break":
		if conn, _, err := rc.Hijack(); err == nil {
			_ = conn.Close()
		}
	case "hang":
		u.mu.Lock()
		ch := u.partSent[key]
		delete(u.partSent, key)
		u.mu.Unlock()
		if ch != nil {
			close(ch)
		}
		select { // returning short of Content-Length makes net/http close the connection
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}
}

// callPhases are the disk phases at a call's start and at its answer.
type callPhases struct{ start, end int32 }

// soakTraffic is the soak's clients: each makes matched calls one after another, with a result size of its
// own drawing, as many as the test grants, going on through failures (a reload closing its connection, the
// process killed). A call is answered when the client got a 2xx whose bytes are the upstream's.
type soakTraffic struct {
	w        *hookWorld
	plan     faultsSoakPlan
	phase    atomic.Int32 // the disk phase now
	finished atomic.Int64 // calls made, answered or not

	mu      sync.Mutex
	allowed int64         // calls the clients may make in all, raised by grant
	taken   int64         // calls the clients started
	granted chan struct{} // closed (and replaced) by each grant, to wake the clients
	acked   map[string]callPhases
	failed  int
	altered []string // keys whose 2xx answer was not the upstream's bytes
	aborted []string
}

func newSoakTraffic(w *hookWorld, plan faultsSoakPlan) *soakTraffic {
	return &soakTraffic{w: w, plan: plan, acked: map[string]callPhases{}, granted: make(chan struct{})}
}

// grant lets the clients make n more calls and returns how many they may make in all.
func (tr *soakTraffic) grant(n int) int64 {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.allowed += int64(n)
	close(tr.granted)
	tr.granted = make(chan struct{})
	return tr.allowed
}

func (tr *soakTraffic) allowedCalls() int64 {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.allowed
}

// take waits until one more call is allowed and counts it as started; false once stop is closed.
func (tr *soakTraffic) take(stop <-chan struct{}) bool {
	for {
		tr.mu.Lock()
		if tr.taken < tr.allowed {
			tr.taken++
			tr.mu.Unlock()
			return true
		}
		granted := tr.granted
		tr.mu.Unlock()
		select {
		case <-stop:
			return false
		case <-granted:
		}
	}
}

// maxCallsPerClient bounds a client's loop whatever happens to the test.
const maxCallsPerClient = 100_000

func (tr *soakTraffic) run(client int, seed uint64, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(seed, uint64(client)))
	for i := range maxCallsPerClient {
		select {
		case <-stop:
			return
		default:
		}
		if !tr.take(stop) {
			return
		}
		key := fmt.Sprintf("soak-c%d-%06d", client, i)
		n := tr.plan.minResult + rng.IntN(tr.plan.maxResult-tr.plan.minResult+1)
		err := tr.call(key, n, tr.phase.Load())
		tr.finished.Add(1)
		if err != nil {
			select { // the process may be down (killed, restarting): do not spin on refused connections
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// call makes one matched call and records whether it was answered, with the phases it lived through.
func (tr *soakTraffic) call(key string, n int, startPhase int32) error {
	req := fmt.Sprintf(`{"jsonrpc":"2.0","method":"echo","params":[%q,%d],"id":1}`, key, n)
	body, status, err := tr.post(context.Background(), req)
	if err == nil && status/100 != 2 {
		err = fmt.Errorf("call %s answered %d: %.200s", key, status, body)
	}
	altered := err == nil && !bytes.Equal(body, soakAnswer(key, n))
	if altered {
		err = fmt.Errorf("call %s: the answer differs from the upstream's (%d bytes)", key, len(body))
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	switch {
	case altered:
		tr.altered = append(tr.altered, key)
	case err != nil:
		tr.failed++
	default:
		tr.acked[key] = callPhases{startPhase, tr.phase.Load()}
	}
	return err
}

func (tr *soakTraffic) post(ctx context.Context, body string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+tr.w.site+"/", strings.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	return got, resp.StatusCode, err
}

// abort makes aborted call i: even ones have the upstream break mid-body, odd ones have the client hang up
// once the upstream has sent three quarters of its answer.
func (tr *soakTraffic) abort(up *soakUpstream, i int) {
	key := fmt.Sprintf("soak-abort-%04d", i)
	mode := "break"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var part chan struct{}
	if i%2 == 1 {
		mode = "hang"
		part = up.expectPart(key)
	}
	req := fmt.Sprintf(`{"jsonrpc":"2.0","method":"echo","params":[%q,%d,%q],"id":1}`, key, tr.plan.abortedSize, mode)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = tr.post(ctx, req) // fails one way or another: that is the point
	}()
	if part != nil {
		select {
		case <-part:
		case <-time.After(10 * time.Second): // bounded: the check below still runs
		}
		cancel()
	}
	<-done
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.aborted = append(tr.aborted, key)
}

func (tr *soakTraffic) answered() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.acked)
}

func (tr *soakTraffic) failedCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.failed
}

func (tr *soakTraffic) alteredAnswers() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.altered...)
}

// deliveredSince says whether a call started in phase p or later has been delivered.
func (tr *soakTraffic) deliveredSince(p int32) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for k, ph := range tr.acked {
		if ph.start >= p && tr.w.recv.deliveries(k) > 0 {
			return true
		}
	}
	return false
}

// split sorts the answered calls into those that must be delivered and those whose life overlapped the
// disk-full window, which may have been dropped instead.
func (tr *soakTraffic) split() (mustDeliver, mayDrop []string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for k, ph := range tr.acked {
		if ph.start <= phaseDiskFreed && ph.end >= phaseDiskFull {
			mayDrop = append(mayDrop, k)
		} else {
			mustDeliver = append(mustDeliver, k)
		}
	}
	return mustDeliver, mayDrop
}

// abortedDelivered counts the aborted calls that were delivered as events anyway.
func (tr *soakTraffic) abortedDelivered() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, k := range tr.aborted {
		if tr.w.recv.deliveries(k) > 0 {
			n++
		}
	}
	return n
}

// webhookIDs counts the receiver's 2xx answers by webhook-id, the key a receiver dedupes on, and which ids
// each call's marker arrived with: a repeated id is a redelivery, two ids for one call would be one call
// stored as two events.
type webhookIDs struct {
	mu       sync.Mutex
	accepted map[string]int             // webhook-id -> 2xx answers
	perKey   map[string]map[string]bool // call marker -> webhook-ids it was delivered with
}

// newTally is the usual receiver (see newTally) with the webhook-ids of its 2xx answers recorded.
func (ids *webhookIDs) newTally(t *testing.T, addr string) *tally {
	t.Helper()
	tl := emptyTally(addr)
	tl.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusRecorder{ResponseWriter: w}
		tl.ServeHTTP(rec, r)
		if rec.status/100 == 2 {
			ids.mu.Lock()
			defer ids.mu.Unlock()
			id, key := r.Header.Get("webhook-id"), gjson.GetBytes(body, "request.args.0").String()
			ids.accepted[id]++
			if ids.perKey[key] == nil {
				ids.perKey[key] = map[string]bool{}
			}
			ids.perKey[key][id] = true
		}
	})}
	t.Cleanup(func() { _ = tl.srv.Close() })
	tl.up(t)
	return tl
}

// duplicates lists the webhook-ids accepted more than once, and the calls delivered under more than one id.
func (ids *webhookIDs) duplicates() (repeated, twice []string) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	for id, n := range ids.accepted {
		if n > 1 {
			repeated = append(repeated, fmt.Sprintf("%s×%d", id, n))
		}
	}
	for key, set := range ids.perKey {
		if len(set) > 1 {
			twice = append(twice, key)
		}
	}
	return repeated, twice
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// deliveries is how many 2xx the receiver gave for key.
func (tl *tally) deliveries(key string) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.accepted[key]
}

// counterAcrossResets adds up a counter of the process that starts again at zero on every reload (each Caddy
// config has its own metrics registry) and every restart: observe it right before each, call restarted
// right after.
type counterAcrossResets struct{ last, total float64 }

func (c *counterAcrossResets) observe(v float64) {
	if v < c.last { // a reset that was not announced: all of v is new
		c.total += v
	} else {
		c.total += v - c.last
	}
	c.last = v
}

func (c *counterAcrossResets) restarted() { c.last = 0 }

// postLoad loads the Caddyfile with the given delivery lines through the admin API, as `caddy reload` does.
func (w *hookWorld) postLoad(delivery string) error {
	req, err := http.NewRequest(http.MethodPost, "http://"+w.admin+"/load", strings.NewReader(w.caddyfile(delivery)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	req.Header.Set("Cache-Control", "must-revalidate") // load even when unchanged
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /load answered %d: %s", resp.StatusCode, body)
	}
	return nil
}

// metricValue reads one series (name with its labels, as /metrics prints it) from the admin endpoint; ok is false
// when the process does not answer. A series never incremented is absent, which reads as 0.
func (w *hookWorld) metricValue(series string) (float64, bool) {
	resp, err := client.Get("http://" + w.admin + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, false
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, true
}

// lossCounters lists the series on /metrics that count matched calls which did not become events: the
// drops and the pass-throughs, by reason.
func (w *hookWorld) lossCounters() string {
	resp, err := client.Get("http://" + w.admin + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out []string
	for line := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(line, "caddy_sidehook_events_dropped_total{") || strings.HasPrefix(line, "caddy_sidehook_passed_through_total{") {
			out = append(out, strings.TrimPrefix(line, "caddy_sidehook_"))
		}
	}
	if len(out) == 0 {
		return "no drops, no pass-throughs"
	}
	return strings.Join(out, ", ")
}

// droppedEventLines sums up the log lines of the processes that say events were dropped: the counters of a
// config replaced by a reload are gone, its log lines are not.
func droppedEventLines(procs []*process) string {
	n, first := 0, ""
	for _, p := range procs {
		for line := range strings.SplitSeq(p.output.String(), "\n") {
			if strings.Contains(line, "dropped") {
				if n++; first == "" {
					first = line
				}
			}
		}
	}
	if n == 0 {
		return "no line about dropped events"
	}
	return fmt.Sprintf("%d lines about dropped events, the first: %.500s", n, first)
}

// statsJSON is /sidehook/stats as raw JSON, for fields that queue.Stats does not have.
func (w *hookWorld) statsJSON() (json.RawMessage, bool) {
	resp, err := client.Get("http://" + w.admin + "/sidehook/stats")
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !json.Valid(body) {
		return nil, false
	}
	return bytes.TrimSpace(body), true
}

// processExited says whether the process has ended.
func processExited(p *process) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// deathReport says how a process ended: its exit state and the Go runtime's crash report (a SIGBUS from a
// write into a memory-mapped file the filesystem could not back shows there as "fatal error: fault" and
// "signal SIGBUS"), or the end of its output when it has none.
func deathReport(p *process) string {
	out := p.output.String()
	state := p.cmd.ProcessState.String()
	for _, mark := range []string{"fatal error:", "panic:", "SIGBUS"} {
		if i := strings.Index(out, mark); i >= 0 {
			return fmt.Sprintf("process died (%s): %.1200s", state, out[i:])
		}
	}
	return fmt.Sprintf("process died (%s); its output ends with: %s", state, out[max(0, len(out)-2000):])
}

// waitOrDeath polls cond until it holds (nil), the process dies (an error saying how) or within passes.
func waitOrDeath(p *process, within time.Duration, cond func() bool, what string) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if processExited(p) {
			return fmt.Errorf("waiting for %s: %s", what, deathReport(p))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// mountSoakTmpfs mounts a tmpfs of the given size on dir (created if needed) for the test's duration: a real
// filesystem that fills, unlike a quota faked in the code.
func mountSoakTmpfs(t *testing.T, dir string, mib int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%dm,mode=0700", mib)); err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("cannot mount a tmpfs on %s (%v): root without CAP_SYS_ADMIN, e.g. an unprivileged container", dir, err)
		}
		t.Fatalf("mounting a %d MiB tmpfs on %s: %v", mib, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting the tmpfs on %s: %v", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
}

// soakFreeBytes is what an unprivileged writer can still get on dir's filesystem.
func soakFreeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// soakFillDisk writes a file into dir until about leave bytes are free on its filesystem (or it is full), and
// returns the file's path. The file sits in the queue directory because the tmpfs holds nothing else; Badger
// ignores files whose names are not its own.
func soakFillDisk(t *testing.T, dir string, leave int64) string {
	t.Helper()
	path := filepath.Join(dir, "soak-filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for want := soakFreeBytes(t, dir) - leave; want > 0; want -= int64(len(chunk)) {
		if _, err := f.Write(chunk[:min(int64(len(chunk)), want)]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	return path
}
