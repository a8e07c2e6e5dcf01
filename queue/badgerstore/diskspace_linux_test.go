package badgerstore

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMeasureDiskCountsWhatSparseFilesMayStillTake(t *testing.T) {
	dir := t.TempDir()
	const size = 64 << 20
	for _, name := range []string{"000001.vlog", "000002.sst"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		// Badger creates its files this way: full size, no blocks.
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	_, debt, ok, err := measureDisk(dir)
	if err != nil || !ok {
		t.Fatalf("measureDisk: ok %v, err %v", ok, err)
	}
	if debt != size {
		t.Fatalf("sparse debt of one empty 64 MiB value log (and a table, left out) = %d, want %d", debt, size)
	}
	f, err := os.OpenFile(filepath.Join(dir, "000001.vlog"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 1<<20), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	_, debt, _, err = measureDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	if debt > size-1<<20 || debt < size-2<<20 {
		t.Fatalf("sparse debt after 1 MiB was written = %d, want about %d", debt, size-1<<20)
	}
}
