// Package natskv is a certmagic.Storage over a NATS JetStream key-value bucket, for cluster mode: several
// Caddy instances sharing one JetStream share what they keep in it (sidehook's dynamic subscriptions), lock
// each other out of it, and learn of each other's changes at once through a watch instead of a poll.
//
// Keys. A certmagic key is cleaned as certmagic.FileStorage cleans a file name, split on '/', and each segment
// becomes one subject token: bytes outside [-_a-zA-Z0-9] are written "=XX" (hex), '.' and '=' included, so
// the mapping is reversible and a key prefix is a subject filter. Data keys live under the token "d", locks
// under "l", so listing never shows a lock. Directories are not stored: a directory exists while some key is
// under it, as List, Exists and Stat report (a FileStorage directory outlives its last file; this one does
// not).
//
// Reads go to the stream's leader (the bucket's stream is made with direct gets off): a follower may answer a
// direct get before it applied the latest write, and the subscription store must read what another instance
// just announced. For the same reason listings ask the leader which subjects hold messages (a stream info)
// rather than reading a consumer, which may run on a replica that is behind (a node just restarted).
//
// Locks are keys created only when absent (a KV create is a publish expecting no last message on the
// subject), with a per-message TTL (JetStream 2.11 and later; the bucket's stream allows message TTLs), which
// the holder renews while it holds the lock. A holder that dies stops renewing, and the server removes its
// entry when the TTL runs out; a waiter watches the key and takes the lock then.
//
// Watch signals the changes of one key through a KV watch (an ordered consumer), and also each time the watch
// starts. It starts the watch again whenever the connection comes back (and, with a growing pause, whenever
// the watch ends, as it does when the node holding its consumer dies), so a change made while this instance
// was cut off is caught up on at once.
//
// The package imports neither caddymodule nor queue: it is a storage, which whoever wires cluster mode hands to
// the subscription store.
package natskv
