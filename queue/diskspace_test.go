package queue

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

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

// useFakeDisk makes q's disk gate measure fd, at once.
func useFakeDisk(q *Queue, fd *fakeDisk) {
	g := q.disk
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

func TestEnqueueRefusedWhileDiskShortThenResumes(t *testing.T) {
	rc := newReceiver(t, statuses(200))
	q := openQueue(t, "")
	fd := &fakeDisk{}
	useFakeDisk(q, fd)
	q.Configure(testConfig(), newFakeEndpoints())

	fd.setSpace(q.disk, q.disk.reserves.enqueue) // the body would not fit above the reserve
	m := newMessage(rc.srv.URL)
	if _, err := q.Enqueue(context.Background(), []Message{m}); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Enqueue on a short disk: err = %v, want ErrDiskFull", err)
	}
	if _, found, err := q.Log(m.ID); err != nil || found {
		t.Fatalf("a refused event left a log item (found %v, err %v)", found, err)
	}
	if s := q.Stats(); s.Depth+s.InFlight != 0 {
		t.Fatalf("a refused event is queued: %+v", s)
	}

	fd.setSpace(q.disk, 4*q.disk.reserves.enqueue)
	m = newMessage(rc.srv.URL)
	enqueue(t, q, m)
	waitFor(t, 10*time.Second, statusIs(t, q, m.ID, StatusDelivered))
}

func TestQueuedEventsDeliveredAboveTheFloorAndPausedBelowIt(t *testing.T) {
	rc := newReceiver(t, statuses(200))
	q := openQueue(t, "")
	fd := &fakeDisk{}
	useFakeDisk(q, fd)
	cfg := testConfig()
	cfg.Paused = true
	q.Configure(cfg, newFakeEndpoints())
	g := q.disk
	fd.setSpace(g, 2*g.reserves.enqueue)
	var first []Message
	for range 5 {
		m := newMessage(rc.srv.URL)
		first = append(first, m)
	}
	enqueue(t, q, first...)

	// Between the floor and the enqueue reserve: new events are refused,
	// queued ones are delivered.
	fd.setSpace(g, (g.reserves.floor+g.reserves.enqueue)/2)
	if _, err := q.Enqueue(context.Background(), []Message{newMessage(rc.srv.URL)}); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Enqueue between the reserves: err = %v, want ErrDiskFull", err)
	}
	cfg.Paused = false
	q.Configure(cfg, newFakeEndpoints())
	for _, m := range first {
		waitFor(t, 10*time.Second, statusIs(t, q, m.ID, StatusDelivered))
	}

	// Below the floor: the workers start nothing, and look again by themselves.
	cfg.Paused = true
	q.Configure(cfg, newFakeEndpoints())
	fd.setSpace(g, 2*g.reserves.enqueue)
	second := newMessage(rc.srv.URL)
	enqueue(t, q, second)
	fd.setSpace(g, g.reserves.floor-1)
	cfg.Paused = false
	q.Configure(cfg, newFakeEndpoints())
	seen := fd.measured.Load()
	// Two more measurements: the scheduler looked at the gate after the
	// unpause at least once more than it needed to start an attempt.
	waitFor(t, 10*time.Second, func() bool { return fd.measured.Load() >= seen+2 })
	if n := rc.count(); n != len(first) {
		t.Fatalf("below the floor the receiver got %d requests, want still %d", n, len(first))
	}
	if item := logOf(t, q, second.ID); item.Status != StatusPending {
		t.Fatalf("below the floor the event is %q, want still pending", item.Status)
	}
	if err := q.Retry(second.ID); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Retry below the floor: err = %v, want ErrDiskFull", err)
	}

	// Space returns: delivery resumes by itself.
	fd.setSpace(g, 2*g.reserves.enqueue)
	waitFor(t, 10*time.Second, statusIs(t, q, second.ID, StatusDelivered))
}
