package badgerstore

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

// dirSize is the total apparent size of the files under dir.
func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// enqueue2K stores n events of 2 KiB bodies in batches of 100 and returns their ids.
func enqueue2K(t *testing.T, s *Store, p store.Policy, n int) []string {
	t.Helper()
	var ids []string
	for range n / 100 {
		var batch []store.Event
		for range 100 {
			ev := newEvent(testURL)
			ev.Body = body2K()
			batch = append(batch, ev)
			ids = append(ids, ev.ID)
		}
		if _, err := s.Enqueue(t.Context(), batch, time.Now(), p); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// drain claims and records every job of testURL as delivered.
func drain(t *testing.T, s *Store, p store.Policy) int {
	t.Helper()
	n := 0
	for {
		jobs, _, err := s.Claim(store.Destination(testURL), time.Now().UnixNano(), 64)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 0 {
			return n
		}
		out := make([]store.Outcome, len(jobs))
		for i, j := range jobs {
			out[i] = deliveredNow(j)
		}
		if err := s.Record(out, p); err != nil {
			t.Fatal(err)
		}
		n += len(jobs)
	}
}

func TestDiskUsageQueuedAndDelivered(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a few MiB")
	}
	const events = 3000
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	enqueue2K(t, s, testPolicy, events)
	s.CollectGarbage()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	queued := dirSize(t, dir)
	t.Logf("%d queued 2 KiB events: %d bytes on disk, %.0f bytes per event", events, queued, float64(queued)/events)

	s = openStore(t, dir)
	if n := drain(t, s, testPolicy); n != events {
		t.Fatalf("drained %d jobs, want %d", n, events)
	}
	if n, _ := s.Jobs(); n != 0 {
		t.Errorf("Jobs after the drain = %d", n)
	}
	s.CollectGarbage()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	delivered := dirSize(t, dir)
	t.Logf("after delivery (logs with bodies kept for KeepLogs): %d bytes, %.0f bytes per event", delivered, float64(delivered)/events)
	if perEvent := float64(queued) / events; perEvent > 8<<10 {
		t.Errorf("%.0f bytes per queued event", perEvent)
	}
}

// Once a backlog has drained and its logs have expired, CollectGarbage gives the disk back: the
// bodies of expired logs are swept (they have no TTL of their own), and Badger alone keeps deleted
// and expired keys until they reach its bottom level, which a small database seldom does, and
// value-log files until its GC rewrites them. What stays is the write-ahead log of the memtables
// (at most NumMemtables x MemTableSize) and the value-log file being written, whatever the backlog
// was; the tables and value logs, which grow with the backlog, must shrink.
func TestDrainedQueueGivesDiskBack(t *testing.T) {
	if testing.Short() {
		t.Skip("writes some 50 MiB")
	}
	const events = 20000 // 2 KiB each: several value-log files and memtables
	dir := t.TempDir()
	s := openStore(t, dir)
	p := testPolicy
	p.KeepLogs = time.Second
	ids := enqueue2K(t, s, p, events)
	last := ids[len(ids)-1]
	stored := func() int64 { return allocated(t, dir, ".sst") + allocated(t, dir, ".vlog") }
	queued, queuedAll := stored(), allocated(t, dir, "")
	if n := drain(t, s, p); n != events {
		t.Fatalf("drained %d jobs, want %d", n, events)
	}
	s.CollectGarbage() // logs still live: only the jobs can go
	// The logs expire after a second (Badger's TTL has no clock to move: wait for it); their bodies
	// are swept once older than sweepMinAge, which the sweep's clock is moved past.
	waitFor(t, 10*time.Second, func() bool {
		_, found, err := s.Log(last)
		return err == nil && !found
	})
	swept, err := s.sweepBodies(time.Now().Add(sweepMinAge + time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if swept != events {
		t.Fatalf("swept %d bodies of expired logs, want %d", swept, events)
	}
	// The sweep's deletions (a few hundred KiB) sit in the memtable, which a live store flushes
	// with its next writes; a restart flushes it at once, and the first GC of a drained store after
	// opening flattens it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	// Generous: under CI's full parallel `go test ./...` this package's disk and CPU are shared
	// with the end-to-end tests, and one failure there (28 s for what takes 4 s alone) left too
	// little to tell a slow collection from a stuck one; the files are printed if it is stuck.
	end := time.Now().Add(60 * time.Second)
	for s.CollectGarbage(); stored() >= queued/2; s.CollectGarbage() {
		if time.Now().After(end) {
			lsm, vlog := s.db.Size()
			t.Fatalf("tables and value logs still take %d KiB of %d KiB queued after 60s of collection (Badger: lsm %d KiB, vlog %d KiB, levels %+v); files:\n%s",
				stored()>>10, queued>>10, lsm>>10, vlog>>10, s.db.Levels(), describeFiles(t, dir))
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
