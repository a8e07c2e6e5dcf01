package queue

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// jitterFraction spreads retries of many failed deliveries (one receiver
// down, thousands of events) so they do not all return in the same instant.
const jitterFraction = 0.2

// maxRetryAfter caps a receiver's Retry-After so a typo on its side cannot
// park an event for years.
const maxRetryAfter = 24 * time.Hour

// nextDelay is the wait before the next attempt: base with ±20% jitter (r is
// uniform in [0,1)), but never less than the receiver's Retry-After.
func nextDelay(base, retryAfter time.Duration, r float64) time.Duration {
	factor := 1 - jitterFraction + 2*jitterFraction*r
	d := time.Duration(float64(base) * factor)
	return max(d, retryAfter)
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return min(time.Duration(secs)*time.Second, maxRetryAfter), true
	}
	when, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(when.Sub(now), 0), maxRetryAfter), true
}
