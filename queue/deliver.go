package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

// maxResponseData is how much of a receiver's body the log keeps.
const maxResponseData = 64 << 10

// jsonContentType is the Content-Type of every delivery, shared read-only by
// their headers.
var jsonContentType = []string{"application/json"}

// attemptResult is what one attempt produced, before it is recorded.
type attemptResult struct {
	requested  bool // an HTTP request was made (false: nothing to send to)
	code       int
	body       []byte
	delivered  bool
	gone       bool // 410, or the subscription no longer exists
	refused    bool // the destination guard refused every address
	retryAfter time.Duration
	duration   time.Duration
	reason     string // why it failed, for the log item and the operator log
}

// attempt runs one delivery attempt of a claimed job, whose record the pass
// that claimed it has read, and hands its outcome to the committer. The
// worker slot is given back as soon as the HTTP exchange is over; the claim
// on the job is dropped only once the outcome is committed (commit.go), so
// the job is deleted only after that.
//
// The worker then goes on with its destination's next ready job, if any
// (scheduler.next), keeping its slot.
func (s *scheduler) attempt(r readyJob) {
	q := s.q
	for {
		j, rec := r.j, r.rec
		ok := true
		if r.reload {
			if err := q.db.View(func(txn *badger.Txn) error { return loadBody(txn, &rec) }); err != nil {
				q.logger.Error("load job", zap.String("id", j.id), errField(err))
				ok = false
			}
		}
		cfg := q.config()
		ep := q.endpoints.Load().ep
		var res attemptResult
		if ok {
			res = q.deliver(cfg, ep, &rec)
			s.observe(j.dest, res)
		}
		// Take the next job (or give the slot back) before handing the
		// outcome over, so that once an outcome is committed its slot
		// is never still counted as in flight.
		next, more := s.next(j)
		if ok {
			q.commits.submit(&outcome{j: j, rec: rec, res: res, cfg: cfg, ep: ep})
		} else {
			s.lose(j)
			s.finish(j)
		}
		if !more {
			return
		}
		r = next
	}
}

// loadDue reads the record of a job just claimed, inside the transaction of
// the pass that found the job (so a worker needs no read transaction of its
// own), and checks that the job is still the one the key says. It reports
// whether the job is to be attempted; when not, the caller drops the claim.
//
// The pass's snapshot is never older than the outcome of an attempt whose
// claim was already dropped when the pass took the job: such a claim dropped
// during the pass makes claim refuse the job (scheduler.finishedInPass), so
// a key an attempt just replaced is not taken for a due job.
func (q *Queue) loadDue(rd *passReader, j job) (record, bool) {
	rec, err := rd.state(j.id)
	if err == nil && !isFinal(rec.Status) && rec.NextAttempt == j.due {
		err = rd.body(&rec)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		// An orphan job key (its record is gone): drop it.
		if err := q.db.Update(func(txn *badger.Txn) error { return txn.Delete(jobKey(j.dest, j.due, j.id)) }); err != nil {
			q.logger.Error("drop orphan job", zap.String("id", j.id), errField(err))
		}
		return rec, false
	case err != nil:
		q.logger.Error("load job", zap.String("id", j.id), errField(err))
		q.sched.lose(j)
		return rec, false
	}
	if isFinal(rec.Status) || rec.NextAttempt != j.due {
		return rec, false
	}
	return rec, true
}

// deliver makes the HTTP exchange of one attempt.
func (q *Queue) deliver(cfg *Config, ep Endpoints, rec *record) attemptResult {
	var res attemptResult
	if ep == nil {
		res.reason = "no subscription source configured"
		return res
	}
	secrets, ok := ep.SigningSecrets(rec.SubscriptionUID)
	if !ok {
		res.gone = true
		res.reason = "subscription deleted or disabled"
		return res
	}
	ts := cfg.Now().Unix()
	signature, err := Sign(rec.ID, ts, rec.Body, secrets)
	if err != nil {
		res.reason = err.Error()
		return res
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rec.URL, bytes.NewReader(rec.Body))
	if err != nil {
		// url.Error quotes the whole URL, password included: keep its reason only.
		res.reason = "bad webhook URL: " + describeTransportError(err)
		return res
	}
	// Keys already in canonical form (what Header.Set would make of them),
	// without its canonicalisation on every attempt.
	req.Header = http.Header{
		"Content-Type":      jsonContentType,
		"User-Agent":        {cfg.UserAgent},
		"Webhook-Id":        {rec.ID},
		"Webhook-Timestamp": {strconv.FormatInt(ts, 10)},
		"Webhook-Signature": {signature},
	}

	res.requested = true
	start := time.Now()
	resp, err := q.client.Do(req)
	if err != nil {
		res.duration = time.Since(start)
		res.refused = errors.Is(err, ErrDestinationRefused)
		res.reason = describeTransportError(err)
		return res
	}
	res.code = resp.StatusCode
	if resp.ContentLength != 0 { // most receivers answer with no body at all
		res.body, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseData))
	}
	// Drain a little more so the connection can be reused, then let go.
	_, _ = io.CopyN(io.Discard, resp.Body, maxResponseData)
	_ = resp.Body.Close()
	res.duration = time.Since(start)

	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		res.delivered = true
	case resp.StatusCode == http.StatusGone:
		res.gone = true
		res.reason = "receiver answered 410 Gone"
	default:
		res.reason = fmt.Sprintf("receiver answered %d", resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), cfg.Now()); ok {
				res.retryAfter = d
			}
		}
	}
	if err != nil && res.delivered {
		// The receiver said yes; a broken body read does not undo that.
		res.body = append(res.body, []byte(fmt.Sprintf("\n[reading response: %v]", err))...)
	}
	return res
}

// describeTransportError names timeouts plainly and leaves the URL out: it
// is in the log item already, and a webhook URL may carry a token in its
// query that has no business in operator logs.
func describeTransportError(err error) string {
	text := err.Error()
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		text = urlErr.Err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout: " + text
	}
	return text
}

// applyOutcome writes o's outcome inside txn: the job is removed or moved to
// its next due time and the log item updated. Only the small state entry
// (and the index keys, when their expiry is off: finalIndex,
// extendPendingIndex) is written: the body, written once at Enqueue, is never
// rewritten (bodyEntry).
//
// rec is the record's state as the attempt's pass read it; nothing changes
// the state of a claimed job (commitShared).
func (q *Queue) applyOutcome(txn *badger.Txn, rec record, o *outcome) error {
	cfg, res := o.cfg, o.res
	end := cfg.Now()
	endNs := end.UnixNano()
	o.created = rec.Created
	if rec.NextAttempt != 0 {
		if err := txn.Delete(rec.jobKey()); err != nil {
			return fmt.Errorf("delete job: %w", err)
		}
	}
	o.subscription = rec.SubscriptionUID
	if res.requested {
		rec.ResponseCode = res.code
		rec.ResponseData = res.body
	}
	// A vanished subscription is not an attempt; every other outcome,
	// including failures before any request (a bad secret), counts
	// toward the schedule so that it ends.
	if res.requested || !res.gone {
		rec.Attempts++
	}
	rec.Error = res.reason
	switch {
	case res.delivered:
		o.status = StatusDelivered
	case res.gone:
		o.status = StatusGone
	case rec.Attempts > len(cfg.Retry):
		o.status = StatusDead
	default:
		o.status = StatusRetrying
	}
	o.endNs = endNs
	if o.status == StatusRetrying {
		delay := nextDelay(cfg.Retry[rec.Attempts-1], res.retryAfter, rand.Float64())
		rec.Status = StatusRetrying
		rec.NextAttempt = endNs + int64(delay)
		o.nextDue = rec.NextAttempt
		if err := txn.SetEntry(badger.NewEntry(rec.jobKey(), nil)); err != nil {
			return fmt.Errorf("reschedule job: %w", err)
		}
		return setStateIn(txn, &rec, 0, extendPendingIndex(cfg, &rec, rec.NextAttempt))
	}
	rec.Status = o.status
	rec.NextAttempt = 0
	rec.Processed = endNs
	// The state gets the log's TTL; the index keys only when theirs is off
	// (finalIndex). The body stays as it is: it has no TTL (bodyEntry), and
	// sweepBodies deletes it once this state has expired.
	exp := expiresAt(cfg.KeepLogs)
	reindex := finalIndex(&rec, exp, cfg.KeepLogs)
	o.expires = max(exp, uint64(rec.IndexExpires))
	return setStateIn(txn, &rec, exp, reindex)
}

// recorded runs after o's outcome was committed (err nil) or could not be:
// counters, the rescheduled job's note, Gone, the operator log, OnAttempt.
func (q *Queue) recorded(o *outcome, err error) {
	j, res, cfg, ep := o.j, o.res, o.cfg, o.ep
	if err != nil {
		q.logger.Error("record delivery attempt", zap.String("id", j.id), errField(err))
		if !errors.Is(err, ErrNotFound) {
			q.sched.lose(j)
		}
		return
	}
	outcome := o.status
	if isFinal(outcome) {
		// A drained queue is flattened again once the last of them has
		// expired (compactIfDrained): the state, or index keys outliving it.
		q.compact.noteExpiry(time.Unix(int64(o.expires), 0).UnixNano())
	}
	q.countOutcome(outcome, res)
	if outcome == StatusRetrying {
		q.sched.note(j.dest, o.nextDue)
	}
	if res.gone && res.requested && ep != nil {
		ep.Gone(o.subscription)
	}
	if !res.delivered {
		q.logger.Warn("webhook delivery failed",
			zap.String("id", j.id),
			zap.String("destination", j.dest),
			zap.Int("code", res.code),
			zap.String("status", outcome),
			zap.String("reason", res.reason))
	}
	if cfg.OnAttempt != nil {
		metric := outcome
		if res.refused {
			metric = "refused"
		}
		cfg.OnAttempt(AttemptInfo{
			Outcome:  metric,
			Code:     res.code,
			Duration: res.duration,
			Latency:  time.Duration(o.endNs - o.created),
		})
	}
}

func (q *Queue) countOutcome(outcome string, res attemptResult) {
	if !res.delivered {
		q.stats.failed.Add(1)
	}
	switch outcome {
	case StatusDelivered:
		q.stats.delivered.Add(1)
	case StatusDead:
		q.stats.dead.Add(1)
	case StatusGone:
		q.stats.gone.Add(1)
	}
	if isFinal(outcome) {
		q.stats.depth.Add(-1)
	}
}

func errField(err error) zap.Field { return zap.Error(err) }
