package badgerstore

import (
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

// Index keys and the final outcome. Badger's TTL is fixed when an entry is written, and a record's
// log expires KeepLogs after its final outcome, which is not known when it is queued. Rewriting
// both index keys at the final outcome to give them that TTL was two of the four entries every
// delivery wrote. Instead Enqueue gives them an expiry that lasts the record's whole pending life as
// the retry schedule sees it (KeepLogs plus Policy.PendingSpan), and the final outcome rewrites them
// only when that expiry is before the state's or more than a quarter of KeepLogs after it: with 30
// days of logs a delivered log's index keys outlive it by at most PendingSpan, and are not written
// again. An index key whose state is gone is skipped by Logs. The one case this gives up: a job held
// back for longer than KeepLogs plus PendingSpan without any attempt (its destination's breaker open
// all that time) drops out of Logs until its next outcome writes its index keys again; it is still
// queued and delivered.

// pendingIndexExpiry is the index expiry (unix seconds) of a record pending with its next attempt
// due at dueNs. Badger expires entries by the wall clock, so a due time in its past (an engine
// with a clock of its own, a clock step) counts from now.
func pendingIndexExpiry(p store.Policy, dueNs int64) int64 {
	return pendingFrom(dueNs).Add(p.KeepLogs + p.PendingSpan).Unix()
}

// pendingFrom is the later of dueNs and the wall clock.
func pendingFrom(dueNs int64) time.Time {
	due := time.Unix(0, dueNs)
	if now := time.Now(); now.After(due) {
		return now
	}
	return due
}

// pendingIndex is the index expiry of a record whose index keys expire at current and which is now
// pending with its next attempt due at dueNs, and whether the keys must be written again: only when
// they would not outlive that attempt by KeepLogs (a Retry-After, an operator's Retry or a longer
// KeepLogs can take it past what Enqueue gave them).
func pendingIndex(p store.Policy, current, dueNs int64) (expires int64, rewrite bool) {
	if current >= pendingFrom(dueNs).Add(p.KeepLogs).Unix() {
		return current, false
	}
	return pendingIndexExpiry(p, dueNs), true
}

// finalIndex is the index expiry of a record whose index keys expire at current and whose final
// state expires at stateExp, and whether the keys must be written again: when they would expire
// before the state or more than a quarter of keep after it.
func finalIndex(current int64, stateExp uint64, keep time.Duration) (expires int64, rewrite bool) {
	exp, slack := int64(stateExp), int64(keep/4/time.Second)
	if current >= exp && current <= exp+slack {
		return current, false
	}
	return exp, true
}
