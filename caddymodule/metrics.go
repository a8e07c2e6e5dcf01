package caddymodule

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sidehook/sidehook/queue"
)

// metrics are sidehook's series on Caddy's /metrics (docs/operations.md#metrics), registered in the registry of the
// config being loaded: Caddy makes a new registry per config, so they are registered again on every reload, and
// handlers of one config share them.
type metrics struct {
	callsSeen     prometheus.Counter
	callsMatched  prometheus.Counter
	passedThrough *prometheus.CounterVec
	// the hot path's children, resolved once: WithLabelValues costs a hash and a lookup per call
	passedTooLarge, passedNotRPC prometheus.Counter
	passedAmbiguous              prometheus.Counter // a call repeats an identifying key (proxy.ErrAmbiguousCall)
	passedMemoryBudget           prometheus.Counter // the memory budget could not cover the call's copies
	eventsQueued                 prometheus.Counter
	eventsLimited                prometheus.Counter
	eventsDropped                *prometheus.CounterVec
	deliveries                   *prometheus.CounterVec
	deliveryTime                 prometheus.Histogram
	callToDelivered              prometheus.Histogram

	queue atomic.Pointer[queue.Queue]
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	const ns, sub = "caddy", "sidehook"
	m := &metrics{}
	var err error
	register := func(c prometheus.Collector) prometheus.Collector {
		if reg == nil || err != nil {
			return c
		}
		if e := reg.Register(c); e != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(e, &are) {
				return are.ExistingCollector
			}
			err = e
		}
		return c
	}
	m.callsSeen = register(prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "calls_seen_total", Help: "JSON-RPC calls inspected (nested calls counted one by one)."})).(prometheus.Counter)
	m.callsMatched = register(prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "calls_matched_total", Help: "Calls that matched at least one subscription."})).(prometheus.Counter)
	m.passedThrough = register(prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "passed_through_total", Help: "POST requests passed through unobserved, by reason."}, []string{"reason"})).(*prometheus.CounterVec)
	m.eventsQueued = register(prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "events_queued_total", Help: "Webhook messages stored for delivery."})).(prometheus.Counter)
	m.eventsLimited = register(prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "events_limited_total", Help: "Webhook messages not queued because the daily limit was reached."})).(prometheus.Counter)
	m.eventsDropped = register(prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "events_dropped_total", Help: "Events lost to a failure of sidehook's own (the call itself passed), by reason."}, []string{"reason"})).(*prometheus.CounterVec)
	m.deliveries = register(prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "deliveries_total", Help: "Delivery attempts by outcome."}, []string{"outcome"})).(*prometheus.CounterVec)
	m.deliveryTime = register(prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
		Name: "delivery_duration_seconds", Help: "Duration of one delivery attempt.", Buckets: prometheus.DefBuckets})).(prometheus.Histogram)
	m.callToDelivered = register(prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
		Name: "call_to_delivery_seconds", Help: "Time from the call to its successful delivery.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 5, 30, 300, 3600}})).(prometheus.Histogram)
	register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
		Name: "queue_depth", Help: "Messages waiting for delivery."}, func() float64 {
		if q := m.queue.Load(); q != nil {
			return float64(q.Stats().Depth)
		}
		return 0
	}))
	register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
		Name: "memory_budget_used_bytes", Help: "Bytes of the memory budget reserved by observed calls in flight."},
		func() float64 { return float64(memoryBudget.Used()) }))
	m.passedTooLarge = m.passedThrough.WithLabelValues("too_large_or_unreadable")
	m.passedNotRPC = m.passedThrough.WithLabelValues("not_jsonrpc")
	m.passedAmbiguous = m.passedThrough.WithLabelValues("ambiguous_json")
	m.passedMemoryBudget = m.passedThrough.WithLabelValues("memory_budget")
	return m, err
}

// watchQueue lets the queue-depth gauge read the queue once it is open.
func (m *metrics) watchQueue(q *queue.Queue) { m.queue.Store(q) }

// observeAttempt is the queue's OnAttempt hook.
func (m *metrics) observeAttempt(a queue.AttemptInfo) {
	m.deliveries.WithLabelValues(a.Outcome).Inc()
	m.deliveryTime.Observe(a.Duration.Seconds())
	if a.Outcome == "delivered" {
		m.callToDelivered.Observe(a.Latency.Seconds())
	}
}
