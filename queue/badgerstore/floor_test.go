package badgerstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/sidehook/sidehook/internal/proccpu"
	"go.uber.org/zap"
)

// BenchmarkBadgerFloor measures what any queue kept in Badger must pay, without this store's
// bookkeeping: the floor under BenchmarkClaimRecord and BenchmarkEnqueue, and so under the
// benchmark's figures 2 and 5 (bench/README.md, "Where the floor is").
//
// Each job is the least a durable webhook queue writes: its body (2 KiB) and a job key at enqueue;
// at delivery, one iterator pass that reads the job keys and bodies of 8 due jobs, then one
// transaction that deletes their job keys and writes a 300-byte log item each (a delivery log is
// part of the product). The variants take parts away or change how they are done; see floorCases.
//
// cpu-µs/job is the process's CPU time per job, Badger's flushes and compactions included.
func BenchmarkBadgerFloor(b *testing.B) {
	for _, c := range floorCases {
		b.Run(c.name, func(b *testing.B) {
			db := openFloorDB(b, c.defaults, c.logInLSM)
			fillFloorJobs(b, db, b.N)
			proccpu.WaitIdle(10 * time.Second) // the fill's compactions are not the drain's
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuNow()
			cursor := []byte("j/") // past the last job taken: a scan from the start would walk every tombstone
			for drained := 0; drained < b.N; {
				batch, err := c.takeDue(db, cursor, 8)
				if err != nil || len(batch) == 0 {
					b.Fatalf("read after %d of %d: %d jobs, %v", drained, b.N, len(batch), err)
				}
				if err := c.finish(db, batch); err != nil {
					b.Fatal(err)
				}
				drained += len(batch)
				cursor = append(batch[len(batch)-1], 0)
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuNow()-cpu).Microseconds())/float64(b.N), "cpu-µs/job")
		})
	}
	b.Run("enqueue/ours", func(b *testing.B) {
		db := openFloorDB(b, false, false)
		body := body2K()
		logItem := make([]byte, 300)
		var seq atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(8) // 16 callers sharing group commits, as the benchmark's 16 connections of matched calls do
		b.ResetTimer()
		cpu := cpuNow()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(seq.Add(1))
				id := floorID(i)
				err := db.Update(func(txn *badger.Txn) error {
					return setAll(txn, floorKey("b/", id), body, floorKey("r/", id), logItem, floorJobKey(i, id), nil)
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64((cpuNow()-cpu).Microseconds())/float64(b.N), "cpu-µs/event")
	})
}

// floorCase is one way of draining: which parts of a delivery's storage work it does, and how.
type floorCase struct {
	name       string
	defaults   bool // Badger's default options instead of this store's: the floor is not the tuning
	readBody   bool // read each job's body, as a backlog's delivery must
	bodyByScan bool // read the bodies with one iterator stepping alongside the jobs, not a point read each
	writeLog   bool // write a 300-byte log item per job
	logInLSM   bool // keep the log item in the LSM tree (ValueThreshold above it) instead of the value log
}

var floorCases = []floorCase{
	{name: "drain/ours", readBody: true, writeLog: true},
	{name: "drain/ours/body-by-scan", readBody: true, bodyByScan: true, writeLog: true},
	{name: "drain/default", defaults: true, readBody: true, writeLog: true},
	{name: "drain/ours/no-body-read", writeLog: true},
	{name: "drain/ours/no-body-read/log-in-lsm", writeLog: true, logInLSM: true},
	{name: "drain/ours/delete-only"}, // the bound of a queue that keeps no log at all
}

// fillFloorJobs queues n jobs, 100 per transaction: a 2 KiB body and a job key each.
func fillFloorJobs(b *testing.B, db *badger.DB, n int) {
	body := body2K()
	for done := 0; done < n; {
		batch := min(100, n-done)
		err := db.Update(func(txn *badger.Txn) error {
			for i := done; i < done+batch; i++ {
				if err := setAll(txn, floorKey("b/", floorID(i)), body, floorJobKey(i, floorID(i)), nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		done += batch
	}
}

// takeDue reads up to max job keys from cursor on, with their bodies when the case reads them.
func (c floorCase) takeDue(db *badger.DB, cursor []byte, max int) (batch [][]byte, err error) {
	err = db.View(func(txn *badger.Txn) error {
		jobs := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("j/")})
		defer jobs.Close()
		var bodies *badger.Iterator
		if c.bodyByScan {
			bodies = txn.NewIterator(badger.IteratorOptions{Prefix: []byte("b/")})
			defer bodies.Close()
		}
		for jobs.Seek(cursor); jobs.Valid() && len(batch) < max; jobs.Next() {
			k := jobs.Item().KeyCopy(nil)
			if c.readBody {
				if err := readFloorBody(txn, bodies, floorKey("b/", floorJobID(k))); err != nil {
					return err
				}
			}
			batch = append(batch, k)
		}
		return nil
	})
	return batch, err
}

// readFloorBody copies the body at key, through bodies when it is set (stepping it past the body read),
// with a point read otherwise.
func readFloorBody(txn *badger.Txn, bodies *badger.Iterator, key []byte) error {
	if bodies == nil {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		_, err = item.ValueCopy(nil)
		return err
	}
	if !bodies.Valid() || !bytes.Equal(bodies.Item().Key(), key) {
		bodies.Seek(key)
	}
	if !bodies.Valid() || !bytes.Equal(bodies.Item().Key(), key) {
		return fmt.Errorf("no body at %s", key)
	}
	_, err := bodies.Item().ValueCopy(nil)
	bodies.Next()
	return err
}

// finish ends the delivered jobs of batch in one transaction: their job keys deleted, a log item each
// when the case writes one.
func (c floorCase) finish(db *badger.DB, batch [][]byte) error {
	logItem := make([]byte, 300)
	return db.Update(func(txn *badger.Txn) error {
		for _, k := range batch {
			if err := txn.Delete(k); err != nil {
				return err
			}
			if c.writeLog {
				if err := txn.Set(floorKey("r/", floorJobID(k)), logItem); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// setAll sets key/value pairs in txn.
func setAll(txn *badger.Txn, kv ...[]byte) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := txn.Set(kv[i], kv[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// openFloorDB opens a Badger in a fresh directory with this store's options, or Badger's defaults.
func openFloorDB(b *testing.B, defaults, logInLSM bool) *badger.DB {
	dir := b.TempDir()
	opts := badgerOptions(dir, zap.NewNop())
	if logInLSM {
		opts = opts.WithValueThreshold(1 << 10)
	}
	if defaults {
		opts = badger.DefaultOptions(dir).WithLogger(nil)
	}
	db, err := badger.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// floorID is the i-th job's id; ids sort as they were made, like the engine's.
func floorID(i int) []byte { return fmt.Appendf(nil, "msg_%022d", i) }

func floorKey(prefix string, id []byte) []byte { return append([]byte(prefix), id...) }

// floorJobKey is "j/", an 8-byte due time, then the id: due order is enqueue order.
func floorJobKey(i int, id []byte) []byte {
	k := binary.BigEndian.AppendUint64([]byte("j/"), uint64(i))
	return append(k, id...)
}

// floorJobID is the id inside a floorJobKey.
func floorJobID(k []byte) []byte { return k[len("j/")+8:] }

// BenchmarkBadgerFloorMemory is the floor under the benchmark's figure 7a (memory with 1M events queued,
// receiver down): Badger alone, with this store's options, taking small events (a 400-byte body, a
// 250-byte state and a job key each) in transactions of 100 from 4 writers, as the figure's 4
// connections sending batches of 100 calls do. peak-MiB is the process's peak resident set while
// queueing (VmHWM, reset at the start), end-MiB the resident set once done; the Go runtime and the test
// binary count in both, about 10 MiB. Those include the pages of the files Badger maps, which the store
// pages out past a budget (pages_linux.go) and this benchmark does not: peak-anon-MiB is the highest
// anonymous resident set (heap, memtable arenas) seen in samples every 20 ms, the part no paging out can
// give back. Run it alone, with b.N the events to queue:
//
//	go test ./queue/badgerstore -run '^$' -bench BadgerFloorMemory -benchtime 1000000x
//
// "ours" is this store's options; "memtables-8MiB" halves the memtables and lets L0 hold 4 tables, the
// setting that trades figure 2's throughput for memory (bench/README.md, "7a, memory").
func BenchmarkBadgerFloorMemory(b *testing.B) {
	b.Run("ours", func(b *testing.B) { floorMemory(b, openFloorDB(b, false, false)) })
	b.Run("memtables-8MiB", func(b *testing.B) {
		opts := badgerOptions(b.TempDir(), zap.NewNop()).WithMemTableSize(8 << 20).WithNumLevelZeroTables(4).WithNumLevelZeroTablesStall(16)
		db, err := badger.Open(opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = db.Close() })
		floorMemory(b, db)
	})
}

func floorMemory(b *testing.B, db *badger.DB) {
	body, state := make([]byte, 400), make([]byte, 250)
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak resident set: %v", err)
	}
	b.ResetTimer()
	var peakAnon atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			peakAnon.Store(max(peakAnon.Load(), procStatusKiB(b, "RssAnon")))
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				first := int(next.Add(100)) - 100
				if first >= b.N {
					return
				}
				err := db.Update(func(txn *badger.Txn) error {
					for i := first; i < min(first+100, b.N); i++ {
						id := floorID(i)
						if err := setAll(txn, floorKey("b/", id), body, floorKey("r/", id), state, floorJobKey(i, id), nil); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(stopSampling)
	<-sampled
	b.ReportMetric(float64(peakAnon.Load())/1024, "peak-anon-MiB")
	b.ReportMetric(float64(procStatusKiB(b, "VmHWM"))/1024, "peak-MiB")
	b.ReportMetric(float64(procStatusKiB(b, "VmRSS"))/1024, "end-MiB")
}

// procStatusKiB reads one "Name:   N kB" line of /proc/self/status.
func procStatusKiB(b *testing.B, name string) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Error(err)
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			if err != nil {
				b.Error(err)
			}
			return n
		}
	}
	b.Errorf("no %s in /proc/self/status", name)
	return 0
}
