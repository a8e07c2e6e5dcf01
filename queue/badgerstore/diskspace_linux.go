package badgerstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// measureDisk returns the bytes of dir's filesystem an unprivileged writer
// may still take (f_bavail: Badger does not run as the filesystem's
// reserved user) and the sparse debt of dir: for each file, its size minus
// the bytes of the blocks allocated to it, which Badger may still write
// through its mappings. Tables (.sst) are left out: Badger writes a table
// whole as soon as it creates it, so a finished one owes nothing, and the
// one being written is what the reserves' flush and compaction parts are
// for; a large queue has thousands of them, and stat-ing each one every
// measurement would cost more than the rest.
func measureDisk(dir string) (free, debt int64, ok bool, err error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return 0, 0, false, fmt.Errorf("statfs %s: %w", dir, err)
	}
	free = int64(fs.Bavail) * int64(fs.Bsize)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, false, fmt.Errorf("list %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".sst") {
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(dir, e.Name()), &st); err != nil {
			continue // deleted since the listing (a value log the GC removed): it owes nothing
		}
		// st_blocks counts 512-byte units whatever the filesystem's block size.
		if owed := st.Size - st.Blocks*512; owed > 0 {
			debt += owed
		}
	}
	return free, debt, true, nil
}
