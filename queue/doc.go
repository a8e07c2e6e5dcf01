// Package queue is sidehook's delivery engine: it turns events handed over by the caddymodule
// into signed POSTs to webhook receivers, with retries, per-destination limits and delivery logs.
// It knows nothing of Caddy or JSON-RPC, and nothing of how events are stored: everything durable
// goes through the storage seam, store.Store (badgerstore on disk, memstore in tests).
//
// How an event flows, and the file that holds each step:
//
//  1. Enqueue (enqueue.go) hands the events to the store and returns once they are durable.
//  2. The store announces the destination due through its Watch function (destinations.go: note).
//  3. The scheduler (scheduler.go) wakes on announcements, finished attempts, recorded outcomes
//     and its timer; it visits destinations that are due and have room, claims their due jobs in
//     batches (store.Claim) and starts attempts within Workers and PerDestination, keeping a few
//     jobs claimed ahead (destinations.go) so that a worker never waits for a pass.
//  4. A worker (attempt.go) makes the attempt (deliver.go, signed by sign.go, through the
//     destination guard of guard.go), then takes its destination's next claimed-ahead job. The
//     breaker (breaker.go) holds back a destination that answers nothing.
//  5. The retry policy (policy.go) decides the outcome: delivered, retrying at a jittered delay,
//     dead once the schedule is spent, or gone.
//  6. The recorder (recorder.go) writes outcomes in groups (store.Record), which ends the claims;
//     followup.go then counts them, tells Endpoints of a 410 and calls the OnAttempt hook.
//  7. Logs, Log and Retry (logs.go) read and reopen what the store keeps.
//
// Open (open.go) is the embedded store plus the engine; New puts the engine over any store.
package queue
