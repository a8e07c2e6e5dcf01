package queue

import "github.com/sidehook/sidehook/queue/store"

// The vocabulary callers share with the storage seam: package queue re-exports it so that callers
// (the caddymodule, the command, the benchmark) need no import of package store.

// Statuses of a log item.
const (
	StatusPending   = store.StatusPending
	StatusDelivered = store.StatusDelivered
	StatusRetrying  = store.StatusRetrying
	StatusDead      = store.StatusDead
	StatusGone      = store.StatusGone
	StatusLimited   = store.StatusLimited
)

var (
	// ErrNotFound is returned for a log id the queue does not know (never existed, or its log
	// expired).
	ErrNotFound = store.ErrNotFound
	// ErrNotRetryable is returned by Retry for an item that was never queued (status "limited").
	ErrNotRetryable = store.ErrNotRetryable
	// ErrDiskFull is returned while the store cannot take writes without risking the process.
	ErrDiskFull = store.ErrDiskFull
	// ErrClosed is returned by Enqueue after Close.
	ErrClosed = store.ErrClosed
)

// LogItem is one message's delivery log, in the OTYS getLogs shape.
type LogItem = store.LogItem

// LogQuery selects log items.
type LogQuery = store.LogQuery

// DiskSpace is the store's view of the space it may still write, for the admin API.
type DiskSpace = store.DiskSpace
