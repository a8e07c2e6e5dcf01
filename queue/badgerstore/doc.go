// Package badgerstore is the embedded implementation of the queue's storage seam (queue/store):
// one process, one Badger directory. It keeps events, jobs, logs and daily counters in Badger and
// the claims in memory: a process that dies loses its claims, and their jobs are due again for the
// next one.
//
// # Key layout
//
// Every kind of entry has its own prefix, so each hot query is a prefix scan in key order:
//
//	r/<id>                                the record: event fields, delivery state, log (no body)
//	b/<id>                                the body, written once at Enqueue, never rewritten
//	j/<dest>\x00<due 8 bytes BE><id>      a job, ordered by destination, then due time (empty value)
//	a/<^created 8 bytes BE><id>           log index, newest first, all clients (empty value)
//	c/<client>\x00<^created 8 bytes><id>  log index, newest first, one client (empty value)
//	d/<yyyy-mm-dd>\x00<client>\x00<user>  daily counter (uint64 BE), TTL 48h
//
// # Why each write is what it is
//
//   - Enqueue writes, per event, the body, the state, the two index keys and the job key in one
//     transaction (a batch too big for one is split, bodies before their states), plus each daily
//     counter it touched once, with its value after the batch. Badger's group commit shares the
//     write among concurrent callers; the counters are counted in memory so that those callers never
//     conflict (limits.go).
//   - The body lives in the value log and is never written again: attempts rewrite only the small
//     state. It has no TTL (its log's expiry is not known when it is written); sweepBodies deletes
//     the bodies whose state has expired.
//   - Claim only reads: the job keys of one destination from a per-destination cursor, and the state
//     and body of each job it claims, through one iterator pass (passReader). The claim itself is in
//     memory (claims.go).
//   - Record writes without reading, from the state the claim read (carried in Job.Ref): it deletes
//     the job key and writes the new state, with a new job key for a retry. Nothing else writes the
//     state of a claimed job (Retry waits for the claim), so the state read at the claim is current.
//     The index keys are rewritten only when their expiry is off (indexexpiry.go).
//   - Retry reads and rewrites the state in a transaction that Badger's conflict detection retries.
//
// Records have one encoding (version 1, record.go); the store has no data of earlier releases to read.
//
// # Files
//
// options.go (Badger's tuning), keys.go, record.go (encoding), entries.go (the entries of a record),
// indexexpiry.go, reader.go (passReader), store.go (Open, Close, Watch), enqueue.go, limits.go,
// claims.go (the claim set and destinations' cursors), claim.go (the claim scan), outcome.go
// (Record), retry.go, logs.go, sweep.go, gc.go, diskspace*.go (the disk gate), pages_*.go (the
// page releaser).
package badgerstore
