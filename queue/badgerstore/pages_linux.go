package badgerstore

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Badger maps its tables (.sst) and value logs (.vlog) into the process and
// writes them through those mappings. Each page it ever wrote or read stays
// mapped, and so counts in the process's resident set, until Badger deletes
// the file; the kernel reclaims such pages only under memory pressure. A
// sidecar holding a million queued events would then show their whole
// database as its own memory (about 700 MiB at 1M small events), although
// nothing in it is needed until the events are delivered.
//
// pagesLoop gives those pages back with madvise(MADV_PAGEOUT) once the
// process's mapped file pages have grown by more than mappedBudget since the
// queue opened: the kernel frees the clean ones (release starts the
// writeback of the value logs first, so that theirs are clean by the next
// round), and a later read faults the page in again from disk, which is what
// a database reading with pread(2) would do. MADV_PAGEOUT (Linux 5.4) never
// changes a page's content, which matters because a mapping read from
// /proc/self/maps can be unmapped by Badger and its addresses reused (by the
// Go runtime, say) before the call: MADV_DONTNEED would zero such memory,
// MADV_PAGEOUT at worst pushes it to swap.
const (
	// mappedBudget is how much the process's mapped file pages may grow
	// over what they were when the queue opened before they are released:
	// enough for the tables and value log a busy queue reads again soon.
	mappedBudget = 32 << 20
	// mappedStep is the growth since the last release that a new one waits
	// for (see pagesLoop).
	mappedStep = 8 << 20
	// mappedCheck is how often the resident set is looked at: one read of
	// /proc/self/status (about 10 µs). A queue filling at full speed maps
	// some 10 MiB of new tables and value log in that time.
	mappedCheck = 250 * time.Millisecond
	madvPageout = 21 // MADV_PAGEOUT, Linux 5.4
)

// mappedReleaser releases the resident pages of one queue directory's
// mapped files.
type mappedReleaser struct {
	dir      string
	baseline int64 // RssFile of the process when the queue opened
	left     int64 // RssFile right after the last release
}

func newMappedReleaser(dir string) *mappedReleaser {
	// /proc/self/maps names files by their real path.
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	rss, _ := residentFilePages()
	return &mappedReleaser{dir: abs, baseline: rss}
}

// pagesLoop checks the resident set every mappedCheck until the store closes.
func (s *Store) pagesLoop(r *mappedReleaser) {
	defer s.bgDone.Done()
	ticker := time.NewTicker(mappedCheck)
	defer ticker.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-ticker.C:
		}
		rss, err := residentFilePages()
		// What a release cannot free (the memtables' logs, which Badger is
		// writing, dirty pages still being written back, the executable's
		// own pages) could keep RssFile over the budget and make every check
		// release again, paging out what a drain is reading: the next
		// release also waits for mappedStep of growth past what was left.
		if err != nil || rss-r.baseline <= mappedBudget || rss-r.left <= mappedStep {
			continue
		}
		if err := r.release(); err != nil {
			s.logger.Warn("releasing the queue's mapped pages is not possible here; they stay resident", zap.Error(err))
			return
		}
		if left, err := residentFilePages(); err == nil {
			r.left = left
		}
	}
}

// release advises the kernel to page out every mapping of a table or value
// log file in the queue directory.
func (r *mappedReleaser) release() error {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	prefix := []byte(r.dir + string(filepath.Separator))
	type mapping struct{ start, end uintptr }
	var mappings []mapping
	logs := map[string]bool{}
	for sc.Scan() {
		start, end, path, ok := parseMapsLine(sc.Bytes())
		if !ok || !bytes.HasPrefix(path, prefix) {
			continue
		}
		switch {
		case bytes.HasSuffix(path, []byte(".vlog")):
			logs[string(path)] = true
		case !bytes.HasSuffix(path, []byte(".sst")):
			continue
		}
		mappings = append(mappings, mapping{start, end})
	}
	if err := sc.Err(); err != nil {
		return err
	}
	// Reclaim frees clean pages only. Tables are synced when Badger creates
	// them, but value-log pages stay dirty until the kernel's flusher writes
	// them (up to half a minute): start that writeback now, so the next
	// round finds them clean.
	for path := range logs {
		startWriteback(path)
	}
	for _, m := range mappings {
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, madvPageout)
		switch errno {
		case 0, syscall.ENOMEM: // ENOMEM: unmapped since the file was read
		case syscall.EINVAL:
			return errors.New("the kernel does not support MADV_PAGEOUT (Linux 5.4 or later)")
		default:
			return errno
		}
	}
	return nil
}

// startWriteback asks the kernel to start writing path's dirty pages, without
// waiting: sync_file_range(SYNC_FILE_RANGE_WRITE) on a descriptor of our own,
// so Badger's locks are not involved. A file deleted meanwhile is skipped.
func startWriteback(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}

// parseMapsLine reads "start-end perms offset dev inode path" from a line
// of /proc/self/maps.
func parseMapsLine(line []byte) (start, end uintptr, path []byte, ok bool) {
	fields := bytes.Fields(line)
	if len(fields) < 6 {
		return 0, 0, nil, false
	}
	lo, hi, found := bytes.Cut(fields[0], []byte("-"))
	if !found {
		return 0, 0, nil, false
	}
	s, err1 := strconv.ParseUint(string(lo), 16, 64)
	e, err2 := strconv.ParseUint(string(hi), 16, 64)
	if err1 != nil || err2 != nil || e <= s {
		return 0, 0, nil, false
	}
	// The path is the rest of the line after the inode: it may hold spaces.
	i := bytes.Index(line, fields[5])
	return uintptr(s), uintptr(e), bytes.TrimRight(line[i:], " "), true
}

// residentFilePages is RssFile of /proc/self/status, in bytes.
func residentFilePages() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("RssFile:")); ok {
			f := bytes.Fields(rest)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no RssFile in /proc/self/status")
}
