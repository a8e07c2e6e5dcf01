package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// soakEnv runs the soak tests in their full form (full sizes); CI runs them reduced.
const soakEnv = "SIDEHOOK_SOAK"

// soakSize is full when SIDEHOOK_SOAK=1, else reduced.
func soakSize(reduced, full int) int {
	if os.Getenv(soakEnv) == "1" {
		return full
	}
	return reduced
}

// poster fires events from a shared counter on a few connections until told to stop or the process is gone.
type poster struct {
	w     *hookWorld
	next  atomic.Int64
	total int

	mu     sync.Mutex
	acked  []string // the client got its answer: the event must be delivered
	failed []string // the call failed (the process died under it): the event may or may not exist
}

// run posts until every event was tried, stop is closed, or a call fails (the process was killed). It
// returns when all its connections are done.
func (p *poster) run(conns int, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := int(p.next.Add(1)) - 1
				if i >= p.total {
					return
				}
				key := eventKey(i)
				err := p.w.fire(key)
				p.mu.Lock()
				if err == nil {
					p.acked = append(p.acked, key)
				} else {
					p.failed = append(p.failed, key)
				}
				p.mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
}

func (p *poster) ackedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// Issue #4: kill -9 of the built binary at random moments while events are posted and delivered to a
// receiver that fails ~30% of attempts with 500, three times over; after the last restart every event whose
// call was answered was delivered at least once. Duplicates are counted and logged, not forbidden: at least
// once allows them. Reduced to 1,000 events in CI; SIDEHOOK_SOAK=1 runs 5,000.
func TestKillNineDuringFlakyDeliveries(t *testing.T) {
	events := soakSize(1000, 5000)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d events", seed, events)
	rng := rand.New(rand.NewPCG(seed, 0x51de))
	var rngMu sync.Mutex
	random := func(n int) int { rngMu.Lock(); defer rngMu.Unlock(); return rng.IntN(n) }

	w := newHookWorld(t)
	w.recv.setDecide(func() int {
		if random(100) < 30 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	// 25 attempts: an event dies only after 25 failures in a row (0.3^25), so every event must get through.
	delivery := "\t\t\tworkers 16\n\t\t\tper_destination 16\n\t\t\ttimeout 5s\n\t\t\tretry" + strings.Repeat(" 100ms", 24)

	p := &poster{w: w, total: events}
	const kills = 3
	start := time.Now()
	for round := 0; round < kills; round++ {
		proc := w.start(delivery)
		// A random moment: once a random share of this round's part of the events is in, plus a random delay,
		// so kills land while calls are being stored, attempts are in flight and outcomes are committed.
		killAt := events*round/(kills+1) + random(events/(kills+1))
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { p.run(4, stop); close(done) }()
		waitFor(t, 60*time.Second, func() bool {
			select {
			case <-done:
				return true
			default:
				return p.ackedCount() >= killAt
			}
		}, "events posted before the kill")
		delay := time.Duration(random(200)) * time.Millisecond
		time.Sleep(delay) // the random moment itself, not synchronisation
		s, _ := w.stats()
		proc.kill()
		close(stop)
		<-done
		distinct, dups, _, _ := w.recv.counts()
		t.Logf("kill %d after %d acked calls (+%s): %d distinct delivered so far, %d duplicates, queue before kill %+v",
			round+1, p.ackedCount(), delay, distinct, dups, s)
	}
	w.start(delivery)
	p.run(4, nil) // the rest of the events
	w.waitAccepted(p.acked, 3*time.Minute)
	distinct, dups, requests, _ := w.recv.counts()
	unacked := 0
	for _, k := range p.failed {
		if len(w.recv.missing([]string{k})) == 0 {
			unacked++
		}
	}
	s, _ := w.stats()
	t.Logf("after %d kills: %d acked calls all delivered, %d distinct events delivered, %d duplicates (%.2f%%), "+
		"%d requests for %d 2xx; %d calls cut off by a kill, %d of them delivered anyway; %s in all; final stats %+v",
		kills, len(p.acked), distinct, dups, 100*float64(dups)/float64(distinct), requests, distinct+dups,
		len(p.failed), unacked, time.Since(start).Round(time.Millisecond), s)
	if s.Dead != 0 {
		t.Errorf("%d events died", s.Dead)
	}
}

// Issue #4: with the receiver down for the whole time events are queued, the binary's resident memory stays
// bounded; when the receiver comes back every event is delivered, and the queue directory shrinks back once
// the delivered items' logs expire and GC runs. Reduced to 5,000 events in CI; SIDEHOOK_SOAK=1 runs 50,000.
func TestReceiverDownBacklogBoundedMemoryAndDisk(t *testing.T) {
	events := soakSize(5000, 50000)
	w := newHookWorld(t)
	w.recv.down()
	// Attempts fail with "connection refused" at once and come back every ~10s (every failed attempt rewrites
	// its record, so a shorter period measures write churn more than the backlog); logs of delivered items
	// expire after 2s so that what is left on disk afterwards is the queue's own overhead.
	delivery := "\t\t\tworkers 16\n\t\t\tper_destination 16\n\t\t\ttimeout 5s\n\t\t\tkeep_logs 2s\n\t\t\tgc_interval 1s\n\t\t\tretry" + strings.Repeat(" 10s", 100)
	proc := w.start(delivery)
	pid := proc.cmd.Process.Pid
	startRSS := vmRSS(t, pid)

	var peakRSS atomic.Int64
	var peakStatus atomic.Pointer[map[string]int64] // /proc status at the peak, for the breakdown
	peakRSS.Store(startRSS)
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-sampling:
				return
			case <-tick.C:
				if st := procStatus(pid); st["VmRSS"] > peakRSS.Load() {
					peakRSS.Store(st["VmRSS"])
					peakStatus.Store(&st)
				}
			}
		}
	}()
	t0 := time.Now()
	p := &poster{w: w, total: events}
	p.run(8, nil)
	if len(p.failed) > 0 {
		t.Fatalf("%d calls failed, first %s", len(p.failed), p.failed[0])
	}
	queuedIn := time.Since(t0)
	s, _ := w.stats()
	if s.Depth+s.InFlight != uint64(events) {
		t.Errorf("with the receiver down, %d events should wait; stats %+v", events, s)
	}
	queuedDisk, queuedTables := diskUsage(t, w.queueDir(), ""), diskUsage(t, w.queueDir(), ".sst")
	queuedRSS := vmRSS(t, pid)

	t1 := time.Now()
	w.recv.up(t)
	w.waitAccepted(p.acked, 5*time.Minute)
	drainedIn := time.Since(t1)
	close(sampling)
	<-sampled

	// Disk comes back when delivered logs have expired and compaction plus GC dropped them. The tables (.sst:
	// states, jobs, log index keys) shrink within the test; the bodies (.vlog) are swept only once an hour old
	// (queue/sweep.go), so here they stay. The memtables' write-ahead log (.mem) stays whatever the backlog. In
	// the reduced form the whole backlog fits in the memtables, so there the numbers are reported, and the
	// tables' shrinking is checked in the full form.
	full := os.Getenv(soakEnv) == "1"
	var shrinkWait time.Duration
	if full {
		shrinkWait = time.Minute
	}
	var afterDisk, afterTables int64
	deadline := time.Now().Add(shrinkWait)
	for {
		afterDisk, afterTables = diskUsage(t, w.queueDir(), ""), diskUsage(t, w.queueDir(), ".sst")
		if afterTables < queuedTables/2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	distinct, dups, requests, _ := w.recv.counts()
	if st := peakStatus.Load(); st != nil {
		t.Logf("at the RSS peak: RssAnon %d KiB, RssFile %d KiB, RssShmem %d KiB", (*st)["RssAnon"], (*st)["RssFile"], (*st)["RssShmem"])
	}
	t.Logf("%d events queued in %s with the receiver down: RSS %d KiB at start, %d KiB with all queued, peak %d KiB; queue_dir %d KiB (%.0f B/event)",
		events, queuedIn.Round(time.Millisecond), startRSS, queuedRSS, peakRSS.Load(), queuedDisk>>10, float64(queuedDisk)/float64(events))
	t.Logf("receiver back: %d distinct delivered in %s, %d duplicates, %d requests accepted; queue_dir after GC %d KiB (%.0f%% of the backlog's), tables %d KiB then %d KiB",
		distinct, drainedIn.Round(time.Millisecond), dups, requests, afterDisk>>10, 100*float64(afterDisk)/float64(queuedDisk), queuedTables>>10, afterTables>>10)
	if limit := int64(256 << 10); peakRSS.Load() > limit {
		t.Errorf("peak RSS %d KiB over the %d KiB bar", peakRSS.Load(), limit)
	}
	if full && afterTables >= queuedTables/2 {
		t.Errorf("queue_dir's tables did not shrink: %d KiB with the backlog, %d KiB after delivery and GC", queuedTables>>10, afterTables>>10)
	}
}

// vmRSS reads a process's resident set size in KiB from /proc.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	rss := vmRSSOrZero(pid)
	if rss == 0 {
		t.Fatalf("no VmRSS for pid %d", pid)
	}
	return rss
}

func vmRSSOrZero(pid int) int64 { return procStatus(pid)["VmRSS"] }

// procStatus reads the kB fields of /proc/<pid>/status (VmRSS, RssAnon, RssFile, …); empty when the process
// is gone. RssFile is mostly Badger's memory-mapped tables and logs: page cache the kernel can take back.
func procStatus(pid int) map[string]int64 {
	out := map[string]int64{}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasSuffix(rest, " kB") {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64); err == nil {
			out[name] = n
		}
	}
	return out
}

// diskUsage is the space the files under dir really take (allocated blocks): Badger's memtable and value log
// files are sparse, so their apparent size says little.
// Only names ending in suffix count ("" for all).
func diskUsage(t *testing.T, dir, suffix string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) { // Badger removed it while we walked
				return nil
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, suffix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}
