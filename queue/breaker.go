package queue

import (
	"time"

	"go.uber.org/zap"
)

// A destination that answers nothing (connection refused, DNS or TLS
// failure, timeout) is not hammered with every job it has queued: after such
// an attempt the scheduler leaves the destination alone for a cooldown,
// then lets a single attempt through (a probe) until one gets an HTTP
// answer, doubling the cooldown after each probe that gets none. Any HTTP
// answer, even a 500, closes the breaker: the receiver is there, and each
// job's own retry schedule takes over.
//
// Jobs that wait behind an open breaker are not attempted, so they spend
// none of their attempts and their records are not rewritten. Without this,
// a receiver that is down with a million events queued gets a million
// refused connections every retry round, each rewriting its record: a storm
// of writes that costs CPU, disk churn and memory for nothing.
const (
	breakerFirst = 250 * time.Millisecond
	breakerMax   = 30 * time.Second
)

// breaker is a destination's state; it lives in destination, under scheduler.mu.
type breaker struct {
	// cooldown is 0 while the breaker is closed; otherwise the current
	// cooldown, and only one attempt may run at a time.
	cooldown time.Duration
	// until is when the current cooldown ends (wall clock, unix ns).
	until int64
}

func (b *breaker) open() bool { return b.cooldown > 0 }

// waiting reports whether the cooldown still runs at wall-clock time now.
func (b *breaker) waiting(now int64) bool { return b.cooldown > 0 && now < b.until }

// observe updates dest's breaker with the result of an attempt. A guard
// refusal is not the receiver's doing (its address is not allowed), and an
// attempt without a request (no secret, subscription gone) says nothing.
func (s *scheduler) observe(dest string, res attemptResult) {
	if !res.requested || res.refused {
		return
	}
	now := time.Now()
	s.mu.Lock()
	d := s.dests[dest]
	if d == nil {
		s.mu.Unlock()
		return
	}
	b := &d.breaker
	if res.code != 0 {
		wasOpen := b.open()
		*b = breaker{}
		s.mu.Unlock()
		if wasOpen {
			s.q.logger.Info("destination answers again; delivering its queued jobs", zap.String("destination", dest))
		}
		return
	}
	if b.waiting(now.UnixNano()) {
		s.mu.Unlock() // another attempt in flight when it opened
		return
	}
	opening := !b.open()
	b.cooldown = min(max(2*b.cooldown, breakerFirst), breakerMax)
	b.until = now.Add(b.cooldown).UnixNano()
	cooldown := b.cooldown
	s.mu.Unlock()
	if opening {
		s.q.logger.Warn("destination does not answer; holding its queued jobs and probing it with one attempt at a time",
			zap.String("destination", dest), zap.String("reason", res.reason))
	}
	s.q.logger.Debug("destination probe failed", zap.String("destination", dest), zap.Duration("next_probe_in", cooldown))
	s.releaseAheadOf(dest)
}
