package badgerstore

import (
	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"go.uber.org/zap"
)

// badgerOptions tunes Badger for a sidecar queue rather than a database
// server. The figures are the benchmark's (bench/, figure 7a: 1M small events
// queued, receiver down); before this tuning the instance held 2.4 GiB.
//
//   - Bodies go to the value log (ValueThreshold 256 B: every body is larger,
//     most states smaller), so compactions move keys, states and value
//     pointers instead of bodies. A body is written once (bodyEntry).
//   - Most of Badger's heap is table builders, not caches: each compaction
//     runs up to 8 + 5 builders at once, each starting from twice its table
//     size, and Badger pools up to 8 builder allocators at the largest size
//     they grew to. Tables are therefore 512 KiB on every level
//     (TableSizeMultiplier 1; Badger's default doubles them per level).
//   - Memtables stay 16 MiB: with 8 MiB the flushes and L0 compactions came
//     twice as often, and the matched-and-queued throughput (every matched
//     call waits on its write) fell from 0.87 to 0.84 of bare reverse_proxy,
//     under its bar of 0.85; 1 MiB tables instead of 512 KiB changed nothing
//     measurable there.
//   - No compression: with Snappy a builder measures its table by the
//     compressed size of the blocks compressed so far, which lags, so it kept
//     several times the table size in memory (anonymous memory 245 MiB
//     instead of 80-130 at 1M queued). Without compression no block cache is
//     needed either: tables are read straight from their mapping.
//   - Small value-log files (16 MiB) let the GC loop give disk back in small
//     steps once bodies are swept.
//
// The pages of the files Badger maps count in the resident set too; the
// queue pages them out past a budget (pages_linux.go).
//
// SyncWrites stays false. The at-least-once promise is about the process being
// killed, not the machine losing power: a committed transaction has been
// copied into the memtable's write-ahead log (memTable.Put -> logFile.writeEntry
// copies into lf.Data, an mmap'd shared file mapping) and, for values over
// ValueThreshold (every body), into the mmap'd value log, before Txn.Commit
// returns (Commit waits on the write request). Those pages belong to the
// kernel's page cache, so they reach the file even when the process dies with
// SIGKILL right after Commit. The page releaser (pages_linux.go) does not
// weaken this: reclaim frees clean pages only, never a dirty one.
func badgerOptions(dir string, logger *zap.Logger) badger.Options {
	opts := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{logger.Sugar().Named("badger")}).
		WithLoggingLevel(badger.WARNING).
		WithSyncWrites(false).
		WithNumVersionsToKeep(1).
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(512 << 10).
		WithBaseLevelSize(8 << 20).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(8 << 20).
		WithValueThreshold(256).
		WithValueLogFileSize(16 << 20).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithMetricsEnabled(false)
	opts.TableSizeMultiplier = 1
	return opts
}

// badgerLogger routes Badger's messages to zap. Info and debug are dropped:
// Badger is chatty about compactions that operators need not see.
type badgerLogger struct{ s *zap.SugaredLogger }

func (l badgerLogger) Errorf(f string, a ...any)   { l.s.Errorf(f, a...) }
func (l badgerLogger) Warningf(f string, a ...any) { l.s.Warnf(f, a...) }
func (l badgerLogger) Infof(string, ...any)        {}
func (l badgerLogger) Debugf(string, ...any)       {}

var _ badger.Logger = badgerLogger{}
