package natskv

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Bounds of the pause between attempts to start a watch again, while NATS or the bucket's stream does not
// answer.
const (
	rewatchFirst = 250 * time.Millisecond
	rewatchMax   = 5 * time.Second
)

// Watch returns a channel that receives a value whenever key is written or deleted, by any instance. Signals
// are coalesced: one pending value stands for any number of changes, so a reader re-reads the key rather than
// counting. When the connection to NATS comes back after a loss, the watch is started again and the channel
// signalled once, since changes made meanwhile were not seen. The channel is closed when ctx ends or the
// storage is closed. The first watch is started before Watch returns, so its error is Watch's.
func (s *Storage) Watch(ctx context.Context, key string) (<-chan struct{}, error) {
	k, err := kvKey(dataRoot, key)
	if err != nil {
		return nil, err
	}
	reconnected := s.reconnected.wait() // before the watch starts: a reconnect from now on restarts it
	w, err := s.startWatch(ctx, k)
	if err != nil {
		return nil, err
	}
	out := make(chan struct{}, 1)
	s.wg.Add(1)
	go s.runWatch(ctx, k, w, reconnected, out)
	return out, nil
}

// startWatch starts a KV watch of key's updates only, within the request timeout (the consumer's creation
// is the only request; deliveries need no deadline).
func (s *Storage) startWatch(ctx context.Context, key string) (jetstream.KeyWatcher, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.kv.Watch(ctx, key, jetstream.UpdatesOnly(), jetstream.MetaOnly())
}

// runWatch forwards w's updates to out until ctx or the storage ends, and restarts the watch when the
// connection came back or the watch ended.
func (s *Storage) runWatch(ctx context.Context, key string, w jetstream.KeyWatcher, reconnected <-chan struct{}, out chan struct{}) {
	defer s.wg.Done()
	defer close(out)
	defer func() {
		if w != nil {
			_ = w.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.ctx.Done():
			return
		case e, ok := <-w.Updates():
			if ok {
				if e != nil {
					signal(out)
				}
				continue
			}
			s.logger.Warn("watch ended; starting it again", zap.String("key", key))
		case <-reconnected:
		}
		_ = w.Stop()
		reconnected = s.reconnected.wait()
		if w = s.rewatch(ctx, key); w == nil {
			return // ctx or the storage ended
		}
		signal(out) // what changed while the watch was down is read now
	}
}

// rewatch starts the watch again, retrying with a growing pause until it starts (nil: ctx or the storage
// ended first).
func (s *Storage) rewatch(ctx context.Context, key string) jetstream.KeyWatcher {
	pause := rewatchFirst
	for {
		w, err := s.startWatch(ctx, key)
		if err == nil {
			return w
		}
		s.logger.Warn("starting a watch failed; retrying", zap.String("key", key), zap.Duration("in", pause), zap.Error(err))
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		pause = min(2*pause, rewatchMax)
	}
}

// signal leaves one value in out unless one is already waiting.
func signal(out chan struct{}) {
	select {
	case out <- struct{}{}:
	default:
	}
}

// broadcast wakes every waiter once per fire: waiters take the current channel, fire closes it and the next
// wait gets a new one.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) fire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}
