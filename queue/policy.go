package queue

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

// The retry policy: what an attempt's result means for its job. It decides and returns; the
// recorder writes what it decided.

// decide is the outcome of job's attempt that produced res and ended at end: delivered, gone,
// retrying at its next due time, or dead once the schedule (cfg.Retry) is spent. jitter is uniform
// in [0,1) and spreads the retries of many jobs that failed together.
func decide(cfg *Config, job store.Job, res attemptResult, end time.Time, jitter float64) store.Outcome {
	out := store.Outcome{
		Job:       job,
		Attempts:  job.Attempts,
		End:       end.UnixNano(),
		Requested: res.requested,
		Error:     res.reason,
	}
	if res.requested {
		out.ResponseCode = res.code
		out.ResponseData = res.body
	}
	// A vanished subscription is not an attempt; every other outcome, including failures before
	// any request (a bad secret), counts toward the schedule so that it ends.
	if res.requested || !res.gone {
		out.Attempts++
	}
	switch {
	case res.delivered:
		out.Status = store.StatusDelivered
	case res.gone:
		out.Status = store.StatusGone
	case out.Attempts > len(cfg.Retry):
		out.Status = store.StatusDead
	default:
		out.Status = store.StatusRetrying
		delay := nextDelay(cfg.Retry[out.Attempts-1], res.retryAfter, jitter)
		out.NextDue = out.End + int64(delay)
	}
	return out
}

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
