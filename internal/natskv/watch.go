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
// counting. Every start of the watch signals too, once the watch delivers the key's current state (or its
// absence): when the connection to NATS comes back after a loss, the watch is started again, and the signal
// then comes when the bucket's stream answers again, so the reader's re-read can succeed. The channel is
// closed when ctx ends or the storage is closed. The first watch is started before Watch returns, so its
// error is Watch's.
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		w.stop()
		return nil, errClosed
	}
	out := make(chan struct{}, 1)
	s.wg.Add(1) // under s.mu, so that Close, which takes s.mu first, waits for this watch too
	go s.runWatch(ctx, k, w, reconnected, out)
	return out, nil
}

// keyWatch is a running KV watch and the cancellation of the context it runs in.
type keyWatch struct {
	jetstream.KeyWatcher
	cancel context.CancelFunc
}

// stop ends the watch; the zero keyWatch (none running) is a no-op.
func (w keyWatch) stop() {
	if w.KeyWatcher != nil {
		_ = w.Stop()
		w.cancel()
	}
}

// startWatch starts a KV watch of key, from its current state on. The subscription lives as long as the
// context it is created with (nats.go unsubscribes when that context ends), so it gets its own, cancelled by
// stop; the consumer's creation, the only request, is bounded by the request timeout by cancelling that
// context if the creation takes longer.
func (s *Storage) startWatch(ctx context.Context, key string) (keyWatch, error) {
	wctx, cancel := context.WithCancel(ctx)
	timeout := time.AfterFunc(s.cfg.RequestTimeout, cancel)
	w, err := s.kv.Watch(wctx, key, jetstream.MetaOnly())
	if !timeout.Stop() && err == nil {
		_ = w.Stop()
		err = context.DeadlineExceeded
	}
	if err != nil {
		cancel()
		return keyWatch{}, err
	}
	return keyWatch{KeyWatcher: w, cancel: cancel}, nil
}

// runWatch forwards w's updates to out until ctx or the storage ends, and restarts the watch when the
// connection came back or the watch ended. A watch that ended is restarted after a pause that grows while
// watches keep ending without delivering anything (they do end, at once, while the connection is down), so
// a lost connection costs no busy loop.
func (s *Storage) runWatch(ctx context.Context, key string, w keyWatch, reconnected <-chan struct{}, out chan struct{}) {
	defer s.wg.Done()
	defer close(out)
	defer func() { w.stop() }()
	pause := rewatchFirst
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.ctx.Done():
			return
		case _, ok := <-w.Updates():
			if ok { // a change, the current state at the start, or the nil that ends it: each may be news
				s.logger.Debug("watch update", zap.String("key", key))
				pause = rewatchFirst
				signal(out)
				continue
			}
			s.logger.Warn("watch ended; starting it again", zap.String("key", key), zap.Duration("in", pause))
			if !s.pause(ctx, pause, reconnected) {
				return
			}
			pause = min(2*pause, rewatchMax)
		case <-reconnected:
			pause = rewatchFirst
		}
		w.stop()
		reconnected = s.reconnected.wait()
		var ok bool
		if w, ok = s.rewatch(ctx, key); !ok {
			return // ctx or the storage ended
		}
		s.logger.Debug("watch started again", zap.String("key", key))
	}
}

// pause waits for d or a reconnection, whichever comes first; false when ctx or the storage ended.
func (s *Storage) pause(ctx context.Context, d time.Duration, reconnected <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-s.ctx.Done():
		return false
	case <-reconnected:
	case <-t.C:
	}
	return true
}

// rewatch starts the watch again, retrying with a growing pause until it starts (false: ctx or the storage
// ended first).
func (s *Storage) rewatch(ctx context.Context, key string) (keyWatch, bool) {
	pause := rewatchFirst
	for {
		w, err := s.startWatch(ctx, key)
		if err == nil {
			return w, true
		}
		s.logger.Warn("starting a watch failed; retrying", zap.String("key", key), zap.Duration("in", pause), zap.Error(err))
		if !s.pause(ctx, pause, nil) {
			return keyWatch{}, false
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
