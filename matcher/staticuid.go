package matcher

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// StaticUIDPrefix starts the uid of every static subscription and of no other: dynamic uids are random hex
// (newUID). The prefix is what lets a queued job or a log item tell, long after the configuration line that
// made its subscription was removed, that it belongs to the operator.
const StaticUIDPrefix = "static_"

// staticUIDHashBytes is how much of the SHA-256 the uid keeps: 12 bytes (24 hex characters) put collisions
// between an operator's handful of lines out of reach and keep the uid short in logs.
const staticUIDHashBytes = 12

// StaticUID is the one derivation of a static subscription's uid. It is a pure function of what identifies
// the subscription, so every instance and every restart gives it the same uid, and jobs queued before a
// reload or a restart still find their subscription. webhookURL is the URL as the operator wrote it, before
// placeholders are replaced: a password a placeholder gives may change without orphaning queued jobs.
//
// The format ("static_" + hex of the first 12 bytes of SHA-256 over the four fields joined by NUL) is stored
// with queued jobs and log items: changing it orphans them.
func StaticUID(pattern, webhookURL, client, user string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{pattern, webhookURL, client, user}, "\x00")))
	return StaticUIDPrefix + hex.EncodeToString(sum[:staticUIDHashBytes])
}

// IsStaticUID reports whether uid was derived by StaticUID, that is whether it names a static subscription.
func IsStaticUID(uid string) bool {
	return strings.HasPrefix(uid, StaticUIDPrefix)
}
