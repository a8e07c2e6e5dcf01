// Package store is the seam between sidehook's delivery engine and the place its events live.
//
// Package queue decides who is attempted when (worker slots, per-destination limits, the breaker of
// an unreachable destination), makes the HTTP exchange and applies the retry policy. Everything it
// keeps durably goes through the Store interface below: events, which of them are due, the claims
// that keep two workers from attempting one job at once, attempt outcomes, delivery logs and daily
// limits. Package badgerstore is the embedded implementation (one process, one directory);
// memstore is the reference implementation the engine's tests run on; a distributed store
// (cluster mode) implements the same interface, and storetest checks any implementation against
// the contract written here.
//
// The contract, in the order an event meets it:
//
//   - Enqueue returns only once the events are durable, so a caller may answer its client after it.
//     An event past its client's and user's daily limit is stored as a final "limited" log item and
//     never becomes a job.
//   - A job is due from its Due time. Claim hands out due jobs of one destination in due order and
//     claims them: no other Claim, in this process or any other sharing the store, returns a claimed
//     job until its claim ends.
//   - A claim ends by Record (the attempt's outcome is written and the job deleted, or moved to its
//     next due time) or by Release (the job was not attempted; it is due again as it was). A process
//     that dies holding claims loses them: their jobs are due again for the next process.
//   - Record either writes every outcome of its batch or none; on an error the claims end all the
//     same and the jobs stay as they were, due again (a store may hold them back for a while so that
//     a failing disk is not spun on).
//   - The store calls the Watch function whenever a destination gets a job due at a time it had not
//     announced: at Watch itself for every destination that has jobs, and after the writes of
//     Enqueue, Record (a retry), Retry and Release. The engine needs nothing else to find work.
package store

import (
	"context"
	"errors"
	"net/url"
	"time"
)

// Statuses of a log item.
const (
	StatusPending   = "pending"   // queued, no attempt made yet
	StatusDelivered = "delivered" // a 2xx answer
	StatusRetrying  = "retrying"  // failed, another attempt is scheduled
	StatusDead      = "dead"      // failed, the retry schedule is spent
	StatusGone      = "gone"      // 410 Gone, or the subscription no longer exists
	StatusLimited   = "limited"   // over the daily limit: logged, never queued
)

// IsFinal reports whether no further attempt follows status.
func IsFinal(status string) bool {
	switch status {
	case StatusDelivered, StatusDead, StatusGone, StatusLimited:
		return true
	}
	return false
}

var (
	// ErrNotFound: no log item has this id (never stored, or its log expired).
	ErrNotFound = errors.New("queue: log item not found")
	// ErrNotRetryable: Retry of an item that was never queued (status "limited").
	ErrNotRetryable = errors.New("queue: item was limited and never queued; it cannot be retried")
	// ErrDiskFull: the store cannot take this write without risking the process (a disk nearly
	// full); nothing was written. The engine drops the event (fail open) or answers the operator.
	ErrDiskFull = errors.New("queue: not enough free disk space in the queue directory")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("queue: closed")
)

// Event is one message to deliver to one subscription, as Enqueue stores it. It never changes
// afterwards: every attempt posts the same Body under the same ID.
type Event struct {
	ID              string // unique, time-sortable (queue.NewMessageID)
	SubscriptionUID string
	ClientID        string
	UserID          string
	URL             string // the webhook URL; its host:port is the job's destination (Destination)
	Body            []byte
	Created         int64 // unix ns
}

// Job is a claimed event with what its next attempt needs.
type Job struct {
	Event           // Body included
	Dest     string // Destination(URL)
	Due      int64  // unix ns the job was due at
	Attempts int    // attempts made before this one
	// Ref is the store's own handle on the claim (a key, a stream sequence); the engine passes it
	// back untouched in Release and Record and never looks inside.
	Ref any
}

// Outcome is the result of one attempt of a claimed job, decided by the engine's retry policy.
type Outcome struct {
	Job    Job
	Status string // StatusDelivered, StatusRetrying, StatusDead or StatusGone
	// Attempts counts attempts made, this one included (a vanished subscription is not an attempt,
	// so Gone may leave it unchanged).
	Attempts int
	NextDue  int64 // StatusRetrying: when the next attempt is due, unix ns
	End      int64 // when the attempt ended, unix ns: the log's "processed" time of a final outcome
	// Requested: an HTTP request was made, and ResponseCode and ResponseData (at most 64 KiB) are its
	// answer's; otherwise the log keeps those of the previous attempt.
	Requested    bool
	ResponseCode int
	ResponseData []byte
	Error        string // why it failed, "" when delivered
}

// EnqueueResult says, per event of an Enqueue in order, whether it became a job (true) or was
// logged as limited (false).
type EnqueueResult struct {
	Queued []bool
}

// Policy is what the store needs of the delivery configuration; the engine passes it with every
// call that writes, so that a reload applies to the next write.
type Policy struct {
	// DailyLimit is how many events one client and user may queue per UTC day (0: no limit). The
	// count is exact across every process sharing the store.
	DailyLimit int
	// KeepLogs is how long a log item stays readable after its final outcome.
	KeepLogs time.Duration
	// PendingSpan bounds how long a job stays pending on its retry schedule (the delays, their
	// jitter and a margin): a store whose log entries need an expiry when they are written can
	// give them KeepLogs past it.
	PendingSpan time.Duration
}

// LogItem is one message's delivery log, in the OTYS getLogs shape.
type LogItem struct {
	ID              string `json:"id"`
	ClientID        string `json:"klantid"`
	UserID          string `json:"userid"`
	WebhookURL      string `json:"webhook_url"`
	RequestData     string `json:"request_data"`  // the body posted
	ResponseData    string `json:"response_data"` // receiver's body, first 64 KiB
	ResponseCode    int    `json:"response_code"`
	Added           string `json:"added"`        // "2006-01-02 15:04:05" UTC
	IsProcessed     string `json:"is_processed"` // "1" once final (delivered, dead, gone, limited), else "0"
	Processed       string `json:"processed"`    // time of the final outcome, "" before
	Status          string `json:"status"`       // pending, delivered, retrying, dead, gone, limited
	Attempts        int    `json:"attempts"`
	NextAttempt     string `json:"next_attempt"` // "" when none
	SubscriptionUID string `json:"-"`
	Error           string `json:"-"` // last failure reason, for operators
}

// LogQuery selects log items.
type LogQuery struct {
	ClientID  string // only this client's items...
	AnyClient bool   // ...unless AnyClient (operators' admin API)
	Status    string // "" = any
	Limit     int    // default 10
	// Hide, when set, leaves out the items whose subscription uid it reports, before they count
	// toward Limit: a caller that may not see some subscriptions' items still gets Limit items of
	// the ones it may see, not fewer.
	Hide func(subscriptionUID string) bool
}

// DefaultLogLimit is how many items a LogQuery without a Limit returns.
const DefaultLogLimit = 10

// DiskSpace is a store's view of the space it may still write, for the admin API; a store that
// does not keep a local directory reports none.
type DiskSpace struct {
	Available      int64 `json:"available"`
	EnqueueReserve int64 `json:"enqueue_reserve"`
	Floor          int64 `json:"floor"`
}

// Store keeps events, jobs, claims, logs and daily counts. Every method is safe for concurrent use.
type Store interface {
	// Enqueue stores events durably and returns once they survive the process being killed. Each
	// event becomes a job due at now, or, past p.DailyLimit, a final "limited" log item. On an
	// error nothing of the call was counted against a limit; events already written by an earlier
	// part of a large batch stay queued (and their destinations are announced).
	Enqueue(ctx context.Context, events []Event, now time.Time, p Policy) (EnqueueResult, error)

	// Claim claims up to max unclaimed jobs of dest due at or before now and returns them in due
	// order, bodies included. next is the due time of dest's earliest unclaimed job that was not
	// returned (when there is one the store knows of; 0 otherwise): the engine sleeps until then.
	Claim(dest string, now int64, max int) (jobs []Job, next int64, err error)
	// Release ends the claims of jobs that were not attempted; they are due again as before.
	Release(jobs []Job)
	// Record writes the outcomes of attempts, all or none, and ends their claims: a final outcome
	// deletes the job and makes the log item final (readable for p.KeepLogs), a retrying one moves
	// the job to NextDue.
	Record(outcomes []Outcome, p Policy) error

	// Retry makes the job of id due at now, whatever its status but limited (ErrNotRetryable);
	// a final one is reopened (reopened true) and keeps its attempt count. A job under claim is
	// waited for (its attempt is bounded by its timeout). Unknown ids answer ErrNotFound.
	Retry(id string, now time.Time, p Policy) (reopened bool, err error)
	// Logs returns log items newest first.
	Logs(q LogQuery) ([]LogItem, error)
	// Log returns one log item by id (found false when there is none).
	Log(id string) (item LogItem, found bool, err error)

	// Watch sets the function the store calls when dest has a job due at due that it may not have
	// announced yet, and at once calls it for every destination with jobs. It is called once,
	// before the first Claim. due may be earlier than the truth (the engine then finds nothing and
	// waits for next), never later.
	Watch(due func(dest string, due int64))
	// Jobs counts the jobs stored, claimed ones included: the queue depth after a restart.
	Jobs() (int, error)
	// Writable reports whether outcomes can be recorded now; while it is false the engine starts no
	// attempt (a store on a nearly full disk keeps room for the outcomes already under way).
	Writable() bool
	// Disk is the store's disk view for the admin API, nil when it has none.
	Disk() *DiskSpace
	// Close ends background work and closes the store. Claims still held are lost (the jobs are due
	// again at the next open); the engine records or releases them first.
	Close() error
}

// Destination is the key PerDestination counts by and jobs are grouped by: the URL's host and
// port, so two services on one machine are two destinations. It is part of the contract so that
// every store groups jobs exactly as the engine counts them.
func Destination(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "invalid"
	}
	return u.Host
}

// Maintained is implemented by a store that does housekeeping of its own on a timer (badgerstore's
// sweep of expired logs and garbage collection): the engine passes it the configured interval at
// every Configure.
type Maintained interface {
	SetMaintenanceInterval(d time.Duration)
}
