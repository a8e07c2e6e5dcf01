package caddymodule

import (
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// dropWarnEvery spaces the warnings about events dropped because the queue could not take them (a full disk, a
// failing store, a queue that could not be opened). While such a fault lasts every matched call drops its
// events, and a line per call would flood the log (and fill the disk further when the log is on the same one).
// Every drop is counted in caddy_sidehook_events_dropped_total{reason}; the warning says how many were dropped
// since the last one.
const dropWarnEvery = time.Minute

// Reasons events are dropped at enqueue, the label of events_dropped_total.
const (
	dropDiskFull         = "disk_full"
	dropStoreFailed      = "store_failed"
	dropQueueUnavailable = "queue_unavailable"
)

// dropMessages is the warning logged for each reason.
var dropMessages = map[string]string{
	dropDiskFull:         "queue_dir is short of disk space: matched calls pass through, their events are dropped (counted in events_dropped_total{reason=\"disk_full\"}); delivery of queued events goes on while space allows",
	dropStoreFailed:      "storing events failed: matched calls pass through, their events are dropped (counted in events_dropped_total{reason=\"store_failed\"})",
	dropQueueUnavailable: "the queue could not be opened: matched calls pass through, their events are dropped (counted in events_dropped_total{reason=\"queue_unavailable\"})",
}

// dropWarning is the state of one queue's warnings for one reason.
type dropWarning struct {
	last    atomic.Int64 // unix ns of the last warning logged
	dropped atomic.Int64 // events dropped since then
}

// dropWarnings holds a dropWarning per queue and reason. It is process-wide, not per config, so a reload does
// not reset it.
var dropWarnings sync.Map // dropKey -> *dropWarning

type dropKey struct{ queue, reason string }

// warnDropped notes that events were dropped from queue for reason, and logs a warning at most once per
// dropWarnEvery and (queue, reason), with the events dropped since the previous one and the last error.
func warnDropped(logger *zap.Logger, queue, reason string, events int, err error) {
	v, _ := dropWarnings.LoadOrStore(dropKey{queue, reason}, new(dropWarning))
	w := v.(*dropWarning)
	w.dropped.Add(int64(events))
	now := time.Now().UnixNano()
	prev := w.last.Load()
	if now-prev < int64(dropWarnEvery) || !w.last.CompareAndSwap(prev, now) {
		return
	}
	fields := []zap.Field{zap.String("queue_dir", queue), zap.Int64("events_since_last_warning", w.dropped.Swap(0)),
		zap.Duration("next_warning_after", dropWarnEvery)}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	logger.Warn(dropMessages[reason], fields...)
}
