package badgerstore

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"
)

func TestParseMapsLine(t *testing.T) {
	start, end, path, ok := parseMapsLine([]byte("7f12a0000000-7f12a0800000 rw-s 00000000 fd:01 1234   /var/lib/side hook/queue/000012.sst"))
	if !ok || start != 0x7f12a0000000 || end != 0x7f12a0800000 || string(path) != "/var/lib/side hook/queue/000012.sst" {
		t.Errorf("got %x-%x %q %v", start, end, path, ok)
	}
	for _, line := range []string{
		"7f12a0000000-7f12a0800000 rw-p 00000000 00:00 0", // anonymous: no path
		"garbage",
		"7f12a0800000-7f12a0000000 r--s 00000000 fd:01 1 /x.sst", // end before start
	} {
		if _, _, _, ok := parseMapsLine([]byte(line)); ok {
			t.Errorf("accepted %q", line)
		}
	}
}

// release pages out the resident pages of the table and value-log files mapped from the queue directory, and
// leaves other mappings alone.
func TestReleasePagesOutQueueMappings(t *testing.T) {
	dir := t.TempDir()
	const size = 4 << 20
	resident := func(m []byte) int {
		vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
		_, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
		if errno != 0 {
			t.Fatal(errno)
		}
		n := 0
		for _, v := range vec {
			n += int(v & 1)
		}
		return n
	}
	mapFile := func(name string) []byte {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, bytes.Repeat([]byte{'x'}, size), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Sync(); err != nil { // reclaim frees clean pages only
			t.Fatal(err)
		}
		m, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Munmap(m) })
		sum := 0
		for i := 0; i < size; i += os.Getpagesize() {
			sum += int(m[i])
		}
		if sum == 0 || resident(m) == 0 {
			t.Fatalf("%s: pages not resident after reading them", name)
		}
		return m
	}
	table, vlog, other := mapFile("000001.sst"), mapFile("000001.vlog"), mapFile("MANIFEST")

	r := newMappedReleaser(dir)
	if err := r.release(); err != nil {
		t.Skipf("MADV_PAGEOUT not available here: %v", err)
	}
	pages := size / os.Getpagesize()
	if n := resident(table); n > pages/10 {
		t.Errorf("table: %d of %d pages still resident after release", n, pages)
	}
	if n := resident(vlog); n > pages/10 {
		t.Errorf("value log: %d of %d pages still resident after release", n, pages)
	}
	if n := resident(other); n < pages/2 {
		t.Errorf("another file of the directory lost %d of %d resident pages", pages-n, pages)
	}
	if table[size-1] != 'x' || vlog[0] != 'x' {
		t.Error("paged-out mappings no longer read their file's content")
	}
}
