package jsstore

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
)

// unansweredTry bounds one try of a read that retryUnanswered repeats: a request sent to a stream leader that
// has just died is never answered, and only a new try reaches the leader elected after it.
const unansweredTry = 2 * time.Second

// retryUnanswered runs read, each try bounded by unansweredTry, again while it went unanswered (its own
// deadline passed, or no server answered) and ctx leaves time: a read made during a stream leader's election
// (4-9 s here) then succeeds once the new leader answers, within the caller's deadline, instead of failing.
func retryUnanswered(ctx context.Context, read func(context.Context) error) error {
	for {
		try, cancel := context.WithTimeout(ctx, unansweredTry)
		err := read(try)
		cancel()
		unanswered := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout)
		if !unanswered || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(republishPause):
		}
	}
}
