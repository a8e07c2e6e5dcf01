package queue

import (
	"time"

	"github.com/sidehook/sidehook/queue/store"
	"go.uber.org/zap"
)

// followUp does what comes after an outcome is recorded: the counters, Endpoints.Gone on a 410,
// the operator's log line of a failed delivery and the OnAttempt metrics hook. The log line names
// the destination (host and port) but never the URL, which may carry a token, nor any secret.
func (q *Queue) followUp(f *finished) {
	out, res := &f.outcome, &f.res
	q.count(out.Status, res.delivered)
	if res.gone && res.requested && f.ep != nil {
		f.ep.Gone(out.Job.SubscriptionUID)
	}
	if !res.delivered {
		q.logger.Warn("webhook delivery failed",
			zap.String("id", out.Job.ID),
			zap.String("destination", out.Job.Dest),
			zap.Int("code", res.code),
			zap.String("status", out.Status),
			zap.String("reason", res.reason))
	}
	if f.cfg.OnAttempt != nil {
		metric := out.Status
		if res.refused {
			metric = "refused"
		}
		f.cfg.OnAttempt(AttemptInfo{
			Outcome:  metric,
			Code:     res.code,
			Duration: res.duration,
			Latency:  time.Duration(out.End - out.Job.Created),
		})
	}
}

// count adds a recorded outcome to the counters.
func (q *Queue) count(status string, delivered bool) {
	if !delivered {
		q.stats.failed.Add(1)
	}
	switch status {
	case store.StatusDelivered:
		q.stats.delivered.Add(1)
	case store.StatusDead:
		q.stats.dead.Add(1)
	}
	if store.IsFinal(status) {
		q.stats.depth.Add(-1)
	}
}
