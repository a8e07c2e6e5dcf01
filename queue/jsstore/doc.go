// Package jsstore is the queue's storage seam (queue/store) over NATS JetStream: several sidehook processes
// opened on the same servers and prefix share one queue, the first step of cluster mode. It keeps everything
// in four key-value buckets, each a JetStream stream replicated Config.Replicas times (R3 in a cluster), named
// after Config.Prefix so that several deployments share one NATS.
//
// # Buckets and keys
//
// Key tokens are the value itself when it is plain ([A-Za-z0-9_-]), else "=" and its base64url (token).
//
//	<prefix>_events  <id>                   the event, body included; written by Enqueue (and by Retry, for its TTL)
//	<prefix>_logs    <client>.<id>          the delivery state a log item shows (no body)
//	<prefix>_jobs    <dest>.<id>            a job: due time, attempts, claim (owner, lease deadline)
//	<prefix>_limits  <yyyy-mm-dd>.<client>.<user>  a daily counter; the bucket's TTL (48h) drops old days
//
// The streams are made by hand (streams.go), as nats.go makes KV streams but with three differences. Direct
// gets are off, so every read goes to the stream's leader: a follower answering a direct get may not have
// applied the latest write, and the store must read its own writes (a job just released is claimable at
// once). Message deletes are allowed: a final outcome deletes the job's message by sequence, so the jobs
// stream's message count is Jobs. The events and logs streams allow per-message TTLs (expiry.go), so logs and
// bodies leave by themselves KeepLogs after the final outcome; the limits stream drops counters after 48h.
//
// No consumer is durable. Listings (Claim's jobs of a destination, Logs) are an ordered consumer (nats.go's
// KV watch) for the bulk, which JetStream may place on a lagging follower (or, for a while after a node's
// loss, on the lost node: then it is given up after a second of silence), then leader gets of each next
// matching message after the last one seen until the leader has none (readAll). The watch is one ordered
// consumer per store for its lifetime. A job whose event expired (kept past PendingSpan plus KeepLogs, which
// the retry schedule never reaches) cannot be attempted: Claim deletes it.
//
// # How each rule of the contract holds
//
//   - Enqueue durability: Enqueue returns once every write is acknowledged by JetStream (a quorum of
//     replicas). The events and logs are published at once and waited for, then the jobs, so a job never
//     exists without its event. Each write carries Nats-Msg-Id = event id, so a write not acknowledged (a
//     stream leader being elected after a node's loss) is published again until RequestTimeout, and an
//     Enqueue retried by its caller within the duplicate window (two minutes) writes nothing twice (its events
//     are counted against the daily limit again, though). A crash before the jobs wave leaves an event and a
//     pending log without a job; the caller got an error and enqueues again (deduplicated), or Retry makes
//     the job.
//   - Daily limit (limits.go): before writing, each (day, client, user) counter is compared and set: read
//     with its revision, written only at that revision, read again when another process won. Exact across
//     processes. On a failed write the reservation is given back the same way. A crash between the counter
//     and the events leaves the counter high by the events lost (never low: the limit is never exceeded).
//   - Claim (claim.go): reads the destination's job keys (filter <dest>.*), sorts the unclaimed due ones
//     by due time, and claims each by compare-and-set of its key to {owner, lease deadline}. Of two processes,
//     exactly one write lands; the other skips the job. The claim's revision is Job.Ref.
//   - Leases: a claim lasts Config.ClaimLease of wall-clock time. A process that dies holding claims loses
//     them when their lease runs out: the job is then unclaimed for every Claim, and the watch of every live
//     process announces it. Processes sharing a queue need clocks within a small part of the lease of each
//     other. Close releases the claims still held, so a clean restart finds their jobs due at once.
//   - Release writes the job back unclaimed at the claim's revision (a lost claim needs nothing).
//   - Record (record.go): checks every outcome and that every claim is still held before writing anything, so
//     a batch refused writes nothing. Then every log is written (all acknowledged), then each job is ended at
//     the claim's revision: deleted (final) or rewritten unclaimed at NextDue (retrying). JetStream has no
//     transaction across keys: a crash after some logs were written leaves those logs showing the attempt made
//     while their jobs stay, claimed until the lease runs out, then due again: attempted again and logged
//     again. At least once, never lost.
//   - Retry (retry.go): waits while the job is claimed (watching its job and log keys, looking again at
//     least every RetryPoll), then moves the pending job to now, or creates a job for a final one, and then
//     rewrites the log at the revision it read (reopened). A crash between leaves a due job under a final
//     log, which its attempt rewrites.
//   - Logs and Log (logs.go): a client's logs are one key filter; they are sorted newest first by created time
//     and id, Hide applies before Limit, and only the returned items' bodies are read. Expired logs (final,
//     past KeepLogs) are left out when read, before the server drops them.
//   - Watch (watch.go): one ordered consumer on the jobs bucket per store: every job written unclaimed, by any
//     process, is announced at its due time; a timer at the earliest lease the watch saw announces claims
//     that ran out unwritten. The store's own writes are announced by the writer too, before they return.
//   - Writable: the connection is up and the jobs stream answers (it needs a leader, so a cluster without
//     quorum is not writable); cached for a second. Disk is nil.
//
// # Files
//
// config.go (Config), conn.go (Open, Close, Jobs, Writable), streams.go (buckets, readAll), entries.go
// (values, keys), expiry.go (TTLs), enqueue.go, limits.go, claim.go (Claim, Release), record.go, retry.go,
// logs.go, watch.go, leases.go (the watch's lease timer).
package jsstore
