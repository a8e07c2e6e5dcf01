package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sidehook/sidehook/queue/store"
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

// deliver makes the HTTP exchange of one attempt of job: the signing secrets are asked for now,
// never stored, so a rotation or a deletion takes effect on the very next attempt.
func (q *Queue) deliver(cfg *Config, ep Endpoints, job store.Job) attemptResult {
	var res attemptResult
	if ep == nil {
		res.reason = "no subscription source configured"
		return res
	}
	secrets, ok := ep.SigningSecrets(job.SubscriptionUID)
	if !ok {
		res.gone = true
		res.reason = "subscription deleted or disabled"
		return res
	}
	ts := cfg.Now().Unix()
	signature, err := Sign(job.ID, ts, job.Body, secrets)
	if err != nil {
		res.reason = err.Error()
		return res
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.URL, bytes.NewReader(job.Body))
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
		"Webhook-Id":        {job.ID},
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
