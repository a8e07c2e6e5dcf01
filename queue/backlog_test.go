package queue

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Events enqueued by many callers at once while their destination fails them are all attempted: a job
// committed with an earlier due time than one the scheduler already claimed must not be skipped. (The receiver
// answers 500: a destination that does not answer at all is held back by its breaker instead, breaker_test.go.)
func TestConcurrentEnqueuesToAFailingDestinationAreAllAttempted(t *testing.T) {
	const events, callers = 2000, 8
	rc := newReceiver(t, statuses(500))
	url := rc.srv.URL

	q := openQueue(t, "")
	cfg := testConfig()
	cfg.Workers, cfg.PerDestination = 16, 16
	cfg.Retry = []time.Duration{time.Hour}
	q.Configure(cfg, newFakeEndpoints())
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < events; i += callers {
				enqueue(t, q, newMessage(url))
			}
		}()
	}
	wg.Wait()
	waitFor(t, 20*time.Second, func() bool { return q.Stats().Failed >= events })
	if s := q.Stats(); s.Failed != events || s.Depth != events {
		t.Errorf("want each of %d events attempted once and waiting for its retry, stats %+v", events, s)
	}
}

// A job committed with a due time before the scheduler's cursor (a slow commit racing a later one, an
// operator's retry, a clock step) is attempted at once, not skipped until the cursor happens to be reset.
func TestJobDueBeforeTheCursorIsNotSkipped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/hook"
	ln.Close()

	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	q := openQueue(t, "")
	cfg := testConfig()
	cfg.Retry = []time.Duration{time.Hour}
	cfg.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	q.Configure(cfg, newFakeEndpoints())

	clock.Add(int64(time.Hour))
	enqueue(t, q, newMessage(url)) // due in an hour: the destination stays known with a cursor
	clock.Add(-int64(time.Hour))
	enqueue(t, q, newMessage(url)) // claimed and refused: the cursor now sits on its key
	waitFor(t, 5*time.Second, func() bool { return q.Stats().Failed == 1 })
	clock.Add(-int64(time.Second))
	enqueue(t, q, newMessage(url)) // due a second before the cursor
	waitFor(t, 5*time.Second, func() bool { return q.Stats().Failed == 2 })
}

// Once a backlog has drained and its logs have expired, CollectGarbage gives the disk back: the bodies of
// expired logs are swept (they have no TTL of their own), and Badger alone keeps deleted and expired keys until
// they reach its bottom level, which a small database seldom does, and value-log files until its GC rewrites
// them. What stays is the write-ahead log of the memtables (at most NumMemtables x MemTableSize) and the value-log
// file being written, whatever the backlog was; the tables and value logs, which grow with the backlog, must
// shrink.
func TestDrainedQueueGivesDiskBack(t *testing.T) {
	if testing.Short() {
		t.Skip("writes some 50 MiB")
	}
	const events = 20000 // 2 KiB each: several value-log files and memtables
	rc := newReceiver(t, statuses(200))
	dir := t.TempDir()
	q := openQueue(t, dir)
	cfg := testConfig()
	cfg.Paused = true
	cfg.DailyLimit, cfg.DailyLimitSet = 0, true
	cfg.KeepLogs = time.Second
	q.Configure(cfg, newFakeEndpoints())
	var last string
	for range events / 100 {
		var batch []Message
		for range 100 {
			m := newMessage(rc.srv.URL)
			m.Body = body2K()
			batch = append(batch, m)
			last = m.ID
		}
		enqueue(t, q, batch...)
	}
	stored := func() int64 { return allocated(t, dir, ".sst") + allocated(t, dir, ".vlog") }
	queued, queuedAll := stored(), allocated(t, dir, "")
	cfg.Paused = false
	cfg.Workers, cfg.PerDestination = 16, 16
	q.Configure(cfg, newFakeEndpoints())
	waitFor(t, 60*time.Second, func() bool { return q.Stats().Delivered == events })
	q.CollectGarbage() // logs still live: only the jobs can go
	// The logs expire after a second (Badger's TTL has no clock to move: wait for it); their bodies are swept
	// once older than sweepMinAge, which the sweep's clock is moved past.
	waitFor(t, 10*time.Second, func() bool {
		_, found, err := q.Log(last)
		return err == nil && !found
	})
	swept, err := q.sweepBodies(time.Now().Add(sweepMinAge + time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if swept != events {
		t.Fatalf("swept %d bodies of expired logs, want %d", swept, events)
	}
	// The sweep's deletions (a few hundred KiB) sit in the memtable, which a live queue flushes with its next
	// writes; a restart flushes it at once, and the first GC of a drained queue after opening flattens it.
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = openQueue(t, dir)
	// Generous: under CI's full parallel `go test ./...` this package's disk and CPU are shared with
	// the end-to-end tests, and one failure there (28 s for what takes 4 s alone) left too little
	// to tell a slow collection from a stuck one; the files are printed if it is stuck.
	end := time.Now().Add(60 * time.Second)
	for q.CollectGarbage(); stored() >= queued/2; q.CollectGarbage() {
		if time.Now().After(end) {
			lsm, vlog := q.db.Size()
			t.Fatalf("tables and value logs still take %d KiB of %d KiB queued after 60s of collection (Badger: lsm %d KiB, vlog %d KiB, levels %+v); files:\n%s",
				stored()>>10, queued>>10, lsm>>10, vlog>>10, q.db.Levels(), describeFiles(t, dir))
		}
		<-time.After(20 * time.Millisecond) // poll interval, not synchronisation
	}
	t.Logf("%d events of 2 KiB: tables and value logs %d KiB queued, %d KiB once delivered, expired and collected; whole directory %d KiB then %d KiB",
		events, queued>>10, stored()>>10, queuedAll>>10, allocated(t, dir, "")>>10)
}

// describeFiles lists the files under dir with their allocated and apparent sizes, for a failure message.
func describeFiles(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		var blocks int64
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			blocks = st.Blocks * 512
		}
		fmt.Fprintf(&b, "  %s: %d KiB allocated, %d KiB apparent\n", filepath.Base(path), blocks>>10, info.Size()>>10)
		return nil
	})
	return b.String()
}

// allocated is the disk space the files under dir really take: Badger's memtable and value-log files are
// sparse, so their apparent size (dirSize) hides what GC gives back.
// Only names ending in suffix count ("" for all).
func allocated(t *testing.T, dir, suffix string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // compaction removed it while we walked
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(path, suffix) {
			return err
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}
