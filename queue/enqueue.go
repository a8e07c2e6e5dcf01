package queue

import (
	"context"
	"fmt"

	"github.com/sidehook/sidehook/queue/store"
)

// EnqueueResult says how many messages were queued for delivery and how many were turned away by
// the daily limit (and only logged).
type EnqueueResult struct{ Queued, Limited int }

// Enqueue stores msgs and returns once they are durable: the caller may answer its client after
// it. A message with an empty ID gets one. The store announces the destinations it queued for
// (Watch), which is how the scheduler hears of them.
func (q *Queue) Enqueue(ctx context.Context, msgs []Message) (EnqueueResult, error) {
	if q.closed.Load() {
		return EnqueueResult{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return EnqueueResult{}, fmt.Errorf("enqueue: %w", err)
	}
	cfg := q.config()
	now := cfg.Now()
	events := make([]store.Event, len(msgs))
	for i := range msgs {
		events[i] = eventOf(&msgs[i], now.UnixNano())
	}
	stored, err := q.st.Enqueue(ctx, events, now, policy(cfg))
	if err != nil {
		return EnqueueResult{}, fmt.Errorf("enqueue: %w", err)
	}
	var res EnqueueResult
	for _, queued := range stored.Queued {
		if queued {
			res.Queued++
		} else {
			res.Limited++
		}
	}
	q.stats.depth.Add(int64(res.Queued))
	q.stats.limited.Add(uint64(res.Limited))
	return res, nil
}

// eventOf is m as the store keeps it, with an id and a creation time when m has none.
func eventOf(m *Message, nowNs int64) store.Event {
	ev := store.Event{
		ID:              m.ID,
		SubscriptionUID: m.SubscriptionUID,
		ClientID:        m.ClientID,
		UserID:          m.UserID,
		URL:             m.URL,
		Body:            m.Body,
		Created:         nowNs,
	}
	if ev.ID == "" {
		ev.ID = NewMessageID()
	}
	if !m.Created.IsZero() {
		ev.Created = m.Created.UnixNano()
	}
	return ev
}
