package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sidehook/sidehook/matcher"
	"github.com/sidehook/sidehook/proxy"
	"github.com/sidehook/sidehook/queue"
)

// enqueueTimeout bounds how long a held response waits for its events to be stored; past it sidehook fails
// open: the client gets its answer and the failure is logged and counted.
const enqueueTimeout = 10 * time.Second

// fireHeld turns the held response into events and stores them, before the caller releases the response: that
// order is the at-least-once promise. resp, when not nil, is the response to pair with (a merged management
// answer); otherwise the held body is used. Every copy is reserved in mem before it is made; without room the
// response goes out unobserved (memory_budget). The events go to the queue the call has held since before it
// called the upstream. Nothing here may break the call: a panic is logged and counted.
func (rt *handlerState) fireHeld(r *http.Request, req *proxy.Request, plan *firingPlan, holder *proxy.Holder, resp []byte, mem *callMemory, held heldQueue) {
	defer func() {
		if v := recover(); v != nil {
			rt.metrics.eventsDropped.WithLabelValues("internal_error").Inc()
			rt.logger.Error("sidehook failed while firing; the call passed untouched", zap.Any("panic", v))
		}
	}()
	if holder.BudgetRefused() {
		rt.metrics.passedMemoryBudget.Inc()
		return
	}
	if holder.Overflowed() {
		rt.metrics.eventsDropped.WithLabelValues("response_too_large").Inc()
		return
	}
	httpOK := holder.Status()/100 == 2
	if !httpOK && !rt.fireOnError {
		return // a failed HTTP answer carries errors, and errors fire only with fire_on_error
	}
	if resp == nil {
		// Only a coded body is decoded into a new buffer whose growth is reserved; binding mem.take for it is an
		// allocation that a plain body (nothing to decode, the held bytes are used as they are) does without.
		var reserve func(int64) bool
		if len(holder.Header().Values("Content-Encoding")) > 0 {
			reserve = mem.take
		}
		var err error
		if resp, err = holder.DecodedBodyReserving(reserve); errors.Is(err, proxy.ErrNoMemory) {
			rt.metrics.passedMemoryBudget.Inc()
			return
		} else if err != nil {
			rt.metrics.eventsDropped.WithLabelValues("undecodable_response").Inc()
			rt.logger.Warn("response not observed", zap.Error(err))
			return
		}
	}
	if !httpOK && !req.AnsweredBy(resp) {
		return // not a JSON-RPC answer (a gateway's error page): the upstream failed as a whole
	}
	prepaid := holder.Prepaid()
	if !mem.takeBeyond(eventsCost(req, resp), &prepaid) {
		rt.metrics.passedMemoryBudget.Inc()
		return
	}
	outcomes := req.Outcomes(resp)
	if !mem.takeBeyond(payloadCost(req, outcomes, plan), &prepaid) {
		rt.metrics.passedMemoryBudget.Inc()
		return
	}
	msgs := rt.messages(req, outcomes, plan, time.Now())
	if len(msgs) == 0 {
		return
	}
	rt.enqueue(r.Context(), held, msgs)
}

// enqueue stores messages durably in the call's held queue; on failure it logs and counts, and the call goes
// on (fail open).
func (rt *handlerState) enqueue(ctx context.Context, held heldQueue, msgs []queue.Message) {
	if held.err != nil {
		rt.metrics.eventsDropped.WithLabelValues(dropQueueUnavailable).Add(float64(len(msgs)))
		warnDropped(rt.logger, rt.queueDir, dropQueueUnavailable, len(msgs), held.err)
		return
	}
	// The client may hang up while we store: the upstream did the work, so the event must still be stored.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
	defer cancel()
	res, err := held.entry.q.Enqueue(ctx, msgs)
	if err != nil {
		reason := dropStoreFailed
		if errors.Is(err, queue.ErrDiskFull) {
			reason, err = dropDiskFull, nil // the warning says it all
		}
		rt.metrics.eventsDropped.WithLabelValues(reason).Add(float64(len(msgs)))
		warnDropped(rt.logger, rt.queueDir, reason, len(msgs), err)
		return
	}
	rt.metrics.eventsQueued.Add(float64(res.Queued))
	rt.metrics.eventsLimited.Add(float64(res.Limited))
}

// messages builds one message per (successful call, subscription that fires for it). Each call is redacted once
// and its event shared by its subscriptions.
func (rt *handlerState) messages(req *proxy.Request, outcomes []proxy.Outcome, plan *firingPlan, now time.Time) []queue.Message {
	var msgs []queue.Message
	for i, subs := range plan.subs {
		if len(subs) == 0 || i >= len(outcomes) {
			continue
		}
		o := outcomes[i]
		if req.Calls[i].Notification {
			// Planned only under fire_notifications; the HTTP 2xx (checked by fireHeld) is all the success a
			// notification reports: it fires without a result.
			o = proxy.Outcome{Found: true, OK: true}
		}
		if !o.Found || (!o.OK && !rt.fireOnError) {
			continue
		}
		ev := rt.redactor.Event(req.Calls[i], o)
		id := plan.ids[i]
		for _, sub := range subs {
			msgID := queue.NewMessageID()
			target := mergeFields(sub.WebhookURL, id)
			body := rt.payload(proxy.Envelope{
				ID: msgID, Time: now, WebhookUID: sub.UID, WebhookURL: target, ClientID: id.Client, UserID: id.User,
			}, &ev)
			msgs = append(msgs, queue.Message{
				ID: msgID, SubscriptionUID: sub.UID, ClientID: id.Client, UserID: id.User,
				URL: target, Body: body, Created: now,
			})
		}
	}
	return msgs
}

// mergeFields replaces the OTYS merge fields with the caller's identity, escaped so that it is safe in a path
// and in a query alike.
func mergeFields(raw string, id matcher.Identity) string {
	if !strings.Contains(raw, "{%user.") {
		return raw
	}
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	return strings.NewReplacer("{%user.clientId%}", esc(id.Client), "{%user.internalId%}", esc(id.User)).Replace(raw)
}
