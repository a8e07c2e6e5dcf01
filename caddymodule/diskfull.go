package caddymodule

import (
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// diskFullWarnEvery spaces the warnings about events dropped for want of
// disk space: while a disk stays full every matched call drops its events,
// and a line per call would flood the log (and fill the disk further when
// the log is on the same one). The count is in
// caddy_sidehook_events_dropped_total{reason="disk_full"}.
const diskFullWarnEvery = time.Minute

// diskFullWarned holds, per queue_dir, when the last warning was logged
// (unix ns). It is process-wide, not per config, so a reload does not
// reset it.
var diskFullWarned sync.Map // string -> *atomic.Int64

// warnDiskFull logs that events were dropped because the queue directory's
// filesystem is short of space, at most once per diskFullWarnEvery and
// queue_dir.
func warnDiskFull(logger *zap.Logger, queueDir string, events int) {
	v, _ := diskFullWarned.LoadOrStore(queueDir, new(atomic.Int64))
	last := v.(*atomic.Int64)
	now := time.Now().UnixNano()
	prev := last.Load()
	if now-prev < int64(diskFullWarnEvery) || !last.CompareAndSwap(prev, now) {
		return
	}
	logger.Warn("queue_dir is short of disk space: matched calls pass through, their events are dropped (counted in events_dropped_total{reason=\"disk_full\"}); delivery of queued events goes on while space allows",
		zap.String("queue_dir", queueDir), zap.Int("events", events), zap.Duration("next_warning_after", diskFullWarnEvery))
}
