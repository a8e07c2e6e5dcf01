package badgerstore

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/sidehook/sidehook/queue/store"
)

// Why a gate at all: Badger writes its value logs (.vlog), memtable
// write-ahead logs (.mem), tables (.sst) and DISCARD file through shared
// memory mappings of files it creates at their full size with ftruncate,
// that is sparse: 2 x ValueLogFileSize for a value log, 2 x MemTableSize for
// a WAL, the exact size for a table. The filesystem gives a block to such a
// file only when a page is first written through the mapping, and when it
// has none left the kernel answers the write with SIGBUS, not an error. Go
// turns that into a fatal error that kills the whole Caddy process. So the
// queue never lets Badger write unless the space it may write into is there:
//
//	available = free blocks of the filesystem (statfs f_bavail)
//	          - sparse debt: for every file in the queue directory but the
//	            tables, its size minus the blocks allocated to it (stat
//	            st_blocks): what Badger may still write into files it has
//	            already mapped
//	          - bytes the queue asked Badger to write since that measurement
//
// and compares it with two reserves sized from Badger's options
// (reservesFor):
//
//   - floor: what Badger may write on its own, unasked, once it has been
//     given writes: flushing its memtables (NumMemtables x MemTableSize) and
//     the compactions that follow (an L0 to L1 compaction of
//     NumLevelZeroTables tables of at most MemTableSize each plus the whole
//     base level, and a deeper one: one table and the LevelSizeMultiplier
//     tables it overlaps). Below it the queue writes nothing at all: the
//     delivery workers pause, the GC pauses, Enqueue and Retry answer
//     ErrDiskFull. Attempts already in flight still record their outcome
//     (a few KiB each).
//   - enqueue: the floor plus the files the next writes may create: a new
//     value log (2 x ValueLogFileSize) and a new WAL (2 x MemTableSize).
//     Below it new events are refused, while the delivery of the events
//     already queued goes on: its bookkeeping is small, and the gap between
//     the two is room for one more of each file.
//
// With the queue's options (badgerOptions) the floor is 77.5 MiB and the
// enqueue reserve 141.5 MiB; a new queue's own sparse debt is about 65 MiB
// (one value log and one WAL), so events are stored while the filesystem
// has about 207 MiB free.
//
// The measurement (a statfs and a stat of the few non-table files) is
// cached for diskMeasureEvery; the queue's own writes since are subtracted
// from it, so the cache only ever errs on the safe side for what the queue
// does. Space taken by other programs within that window has to come out of
// the reserves. Once space returns, the next measurement opens the gate by
// itself: the engine asks Writable again (every 100 ms) while it is closed.
type diskGate struct {
	dir      string
	reserves diskReserves
	// measure returns the free bytes and the sparse debt of dir; ok false
	// means this platform cannot say, and the gate stays open.
	measure func(dir string) (free, debt int64, ok bool, err error)
	onError func(error)

	mu sync.Mutex // serialises measurements
	// failing is whether the last measurement failed (guarded by mu), so
	// that a lasting failure is logged once, not every measurement.
	failing bool
	// at is when available was last measured, unix ns.
	at        atomic.Int64
	available atomic.Int64
	// inFlight counts bytes of writes started and not finished; landed,
	// bytes of writes finished since the last measurement.
	inFlight atomic.Int64
	landed   atomic.Int64
}

// diskReserves are the two thresholds of the gate, in bytes.
type diskReserves struct{ floor, enqueue int64 }

// diskMeasureEvery is how long a measurement of the filesystem is used.
const diskMeasureEvery = 100 * time.Millisecond

// reservesFor sizes the gate's reserves from Badger's options (see diskGate).
func reservesFor(opts badger.Options) diskReserves {
	flush := int64(opts.NumMemtables) * opts.MemTableSize
	l0Compaction := int64(opts.NumLevelZeroTables)*opts.MemTableSize + opts.BaseLevelSize
	deeperCompaction := opts.BaseTableSize * int64(opts.LevelSizeMultiplier+1)
	floor := flush + l0Compaction + deeperCompaction
	nextFiles := 2*opts.ValueLogFileSize + 2*opts.MemTableSize
	return diskReserves{floor: floor, enqueue: floor + nextFiles}
}

func newDiskGate(dir string, opts badger.Options, onError func(error)) *diskGate {
	return &diskGate{dir: dir, reserves: reservesFor(opts), measure: measureDisk, onError: onError}
}

// space is the available bytes as defined on diskGate, measured again when
// the last measurement is older than diskMeasureEvery.
func (g *diskGate) space() int64 {
	if time.Now().UnixNano()-g.at.Load() > int64(diskMeasureEvery) {
		g.refresh()
	}
	return g.available.Load() - g.landed.Load() - g.inFlight.Load()
}

// refresh measures the filesystem again. Writes that landed before the
// measurement began are in it and leave the count; writes still in flight
// stay counted, and are counted once more when they land, which only errs on
// the safe side.
func (g *diskGate) refresh() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Now().UnixNano()-g.at.Load() <= int64(diskMeasureEvery) {
		return // measured by another goroutine meanwhile
	}
	landed := g.landed.Load()
	free, debt, ok, err := g.measure(g.dir)
	switch {
	case err != nil:
		// Unknown space is no space: a gate that cannot see keeps Badger
		// from writing, and the calls still pass.
		if !g.failing && g.onError != nil {
			g.onError(err)
		}
		g.failing = true
		g.available.Store(math.MinInt64 / 2)
	case !ok:
		g.failing = false
		g.available.Store(math.MaxInt64 / 2)
	default:
		g.failing = false
		g.available.Store(free - debt)
	}
	g.landed.Add(-landed)
	g.at.Store(time.Now().UnixNano())
}

// allowEnqueue reports whether n more bytes of new events may be written.
func (g *diskGate) allowEnqueue(n int64) bool {
	return g.space()-n >= g.reserves.enqueue
}

// allowBookkeeping reports whether the delivery of queued events (and the
// GC) may write: the space is above the floor.
func (g *diskGate) allowBookkeeping() bool { return g.space() >= g.reserves.floor }

// allowRewrite reports whether a rewrite of up to n bytes (value-log GC,
// a flatten) fits above the floor.
func (g *diskGate) allowRewrite(n int64) bool { return g.space()-n >= g.reserves.floor }

// begin counts n bytes the queue is about to ask Badger to write; done
// moves them to the landed writes once the write returned.
func (g *diskGate) begin(n int64) { g.inFlight.Add(n) }
func (g *diskGate) done(n int64) {
	g.landed.Add(n)
	g.inFlight.Add(-n)
}

// view is the gate's numbers for the admin API, nil where it cannot measure.
func (g *diskGate) view() *store.DiskSpace {
	available := g.space()
	if available >= math.MaxInt64/4 {
		return nil
	}
	return &store.DiskSpace{Available: available, EnqueueReserve: g.reserves.enqueue, Floor: g.reserves.floor}
}
