// Package layering holds no code, only the tests that keep sidehook's packages layered and each shared rule
// defined once.
//
// caddymodule is the Caddy face and sits on top; proxy (reading JSON-RPC calls and building events), matcher
// (patterns, subscriptions, secrets) and queue (durable storage and delivery) sit below it and know nothing of
// Caddy's module system, so each can be tested and reasoned about alone. Two more rules keep the lower three
// independent of each other where it matters: proxy does not reach the queue (it hands events up, it does not
// store them), and the queue does not know how calls are matched or read (it delivers what it is given, so it
// imports neither matcher nor proxy); matcher needs neither the queue nor proxy. proxy may import matcher, for
// the one rule both must apply alike: how a method is named by its service call. Inside the queue, the storage
// seam queue/store imports nothing of the project, and the stores built on it (badgerstore, memstore, jsstore) and
// its conformance suite (storetest) import only it (jsstore also natsconn). Cluster mode's NATS packages, natsconn (reaching NATS) and natskv
// (a certmagic.Storage over a KV bucket), import nothing else of the project, so the queue and the
// subscriptions can share them without either reaching the other.
package layering
