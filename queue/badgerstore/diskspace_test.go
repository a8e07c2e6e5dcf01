package badgerstore

import (
	"context"
	"errors"
	"time"

	"github.com/sidehook/sidehook/queue/store"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
)

func TestDiskReservesForTheQueuesBadgerOptions(t *testing.T) {
	r := reservesFor(badgerOptions(t.TempDir(), zap.NewNop()))
	// floor: 2 memtables of 16 MiB to flush, an L0 compaction of 2 such
	// tables and the 8 MiB base level, a deeper one of 11 tables of 512 KiB.
	const mib = 1 << 20
	wantFloor := int64(2*16*mib + (2*16*mib + 8*mib) + 11*mib/2)
	// enqueue: the floor, a new value log (2 x 16 MiB) and a new WAL (2 x 16 MiB).
	wantEnqueue := wantFloor + 32*mib + 32*mib
	if r.floor != wantFloor || r.enqueue != wantEnqueue {
		t.Fatalf("reserves = floor %d, enqueue %d; want %d (77.5 MiB) and %d (141.5 MiB)", r.floor, r.enqueue, wantFloor, wantEnqueue)
	}
}

func TestDiskReservesFollowBadgerOptions(t *testing.T) {
	opts := badgerOptions(t.TempDir(), zap.NewNop())
	base := reservesFor(opts)
	bigger := reservesFor(opts.WithValueLogFileSize(2 * opts.ValueLogFileSize))
	if bigger.floor != base.floor || bigger.enqueue != base.enqueue+2*opts.ValueLogFileSize {
		t.Errorf("a value log twice as large: %+v from %+v; want the enqueue reserve up by one more sparse file", bigger, base)
	}
	more := reservesFor(opts.WithMemTableSize(2 * opts.MemTableSize))
	// Each memtable counts in the flush, the L0 compaction and the next WAL.
	grow := int64(opts.NumMemtables+opts.NumLevelZeroTables) * opts.MemTableSize
	if more.floor != base.floor+grow || more.enqueue != base.enqueue+grow+2*opts.MemTableSize {
		t.Errorf("memtables twice as large: %+v from %+v", more, base)
	}
}

// fakeDisk is a measurement the test sets; measured counts the measurements.
type fakeDisk struct {
	available atomic.Int64
	err       atomic.Pointer[error]
	measured  atomic.Int64
}

func (f *fakeDisk) measure(string) (free, debt int64, ok bool, err error) {
	f.measured.Add(1)
	if e := f.err.Load(); e != nil {
		return 0, 0, false, *e
	}
	// Half of it as sparse debt, to check that the gate subtracts it.
	return 2 * f.available.Load(), f.available.Load(), true, nil
}

// useFakeDisk makes s's disk gate measure fd, at once.
func useFakeDisk(s *Store, fd *fakeDisk) {
	g := s.disk
	g.mu.Lock()
	g.measure = fd.measure
	g.mu.Unlock()
	g.at.Store(0)
}

// setSpace makes the gate see available bytes from its next look on.
func (f *fakeDisk) setSpace(g *diskGate, available int64) {
	f.available.Store(available)
	g.at.Store(0)
}

func TestDiskGateSubtractsTheQueuesWritesUntilMeasuredAgain(t *testing.T) {
	g := &diskGate{reserves: diskReserves{floor: 100, enqueue: 200}}
	fd := &fakeDisk{}
	g.measure = fd.measure
	fd.setSpace(g, 250)
	if !g.allowEnqueue(50) || g.allowEnqueue(51) {
		t.Fatalf("space 250, enqueue reserve 200: 50 bytes must fit, 51 not (space %d)", g.space())
	}
	g.begin(60)
	if got := g.space(); got != 190 {
		t.Fatalf("space during a 60-byte write = %d, want 190", got)
	}
	if g.allowEnqueue(0) || !g.allowBookkeeping() {
		t.Fatalf("space 190: enqueue must stop (reserve 200), bookkeeping go on (floor 100)")
	}
	g.done(60)
	if got := g.space(); got != 190 {
		t.Fatalf("space after the write landed, before a new measurement = %d, want 190", got)
	}
	fd.setSpace(g, 230) // the filesystem now shows the write (and some freed space)
	if got := g.space(); got != 230 {
		t.Fatalf("space after a new measurement = %d, want 230: landed writes are in it", got)
	}
	fd.setSpace(g, 99)
	if g.allowBookkeeping() || g.allowRewrite(0) {
		t.Fatalf("space 99 is below the floor 100: nothing may be written")
	}
}

func TestDiskGateClosesWhenSpaceCannotBeMeasured(t *testing.T) {
	var reported atomic.Int64
	g := &diskGate{reserves: diskReserves{floor: 1, enqueue: 2}, onError: func(error) { reported.Add(1) }}
	fd := &fakeDisk{}
	g.measure = fd.measure
	fd.setSpace(g, 1<<30)
	if !g.allowEnqueue(0) {
		t.Fatal("plenty of space: enqueue refused")
	}
	broken := errors.New("statfs: input/output error")
	fd.err.Store(&broken)
	for range 3 {
		g.at.Store(0)
		if g.allowBookkeeping() {
			t.Fatal("space unknown: the gate must stay closed")
		}
	}
	if n := reported.Load(); n != 1 {
		t.Errorf("a lasting measurement failure was reported %d times, want once", n)
	}
	fd.err.Store(nil)
	g.at.Store(0)
	if !g.allowEnqueue(0) {
		t.Error("measurable again: enqueue still refused")
	}
}

// Below the enqueue reserve new events are refused and nothing of them is written; once space
// returns they are stored again.
func TestEnqueueRefusedWhileDiskShortThenResumes(t *testing.T) {
	s := openStore(t, "")
	fd := &fakeDisk{}
	useFakeDisk(s, fd)
	fd.setSpace(s.disk, s.disk.reserves.enqueue) // the body would not fit above the reserve
	ev := newEvent(testURL)
	if _, err := s.Enqueue(context.Background(), []store.Event{ev}, time.Now(), testPolicy); !errors.Is(err, store.ErrDiskFull) {
		t.Fatalf("Enqueue on a short disk: err = %v, want ErrDiskFull", err)
	}
	if _, found, err := s.Log(ev.ID); err != nil || found {
		t.Fatalf("a refused event left a log item (found %v, err %v)", found, err)
	}
	if n, _ := s.Jobs(); n != 0 {
		t.Fatalf("a refused event is queued: %d jobs", n)
	}
	fd.setSpace(s.disk, 4*s.disk.reserves.enqueue)
	enqueue(t, s, newEvent(testURL))
}

// Between the floor and the enqueue reserve new events are refused while outcomes can still be
// recorded (Writable); below the floor nothing is written: Writable is false and Retry answers
// ErrDiskFull. Record keeps no gate: the attempts it records happened.
func TestWritableAboveTheFloorOnly(t *testing.T) {
	s := openStore(t, "")
	fd := &fakeDisk{}
	useFakeDisk(s, fd)
	g := s.disk
	fd.setSpace(g, 2*g.reserves.enqueue)
	ev := newEvent(testURL)
	enqueue(t, s, ev)

	fd.setSpace(g, (g.reserves.floor+g.reserves.enqueue)/2)
	if _, err := s.Enqueue(context.Background(), []store.Event{newEvent(testURL)}, time.Now(), testPolicy); !errors.Is(err, store.ErrDiskFull) {
		t.Fatalf("Enqueue between the reserves: err = %v, want ErrDiskFull", err)
	}
	if !s.Writable() {
		t.Fatal("between the reserves outcomes must still be recorded")
	}
	j := claimOne(t, s, ev.ID)

	fd.setSpace(g, g.reserves.floor-1)
	if s.Writable() {
		t.Fatal("below the floor the store must not be writable")
	}
	if _, err := s.Retry(ev.ID, time.Now(), testPolicy); !errors.Is(err, store.ErrDiskFull) {
		t.Fatalf("Retry below the floor: err = %v, want ErrDiskFull", err)
	}
	if err := s.Record([]store.Outcome{deliveredNow(j)}, testPolicy); err != nil {
		t.Fatalf("Record of an attempt under way below the floor: %v", err)
	}
	if d := s.Disk(); d == nil || d.Floor != g.reserves.floor || d.Available >= d.Floor {
		t.Errorf("Disk() = %+v, want the floor %d and less available", d, g.reserves.floor)
	}
	fd.setSpace(g, 2*g.reserves.enqueue)
	if !s.Writable() {
		t.Error("space returned: still not writable")
	}
}
