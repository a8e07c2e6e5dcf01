package natskv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// lockRecheck is how long a waiter waits for news of the lock's key before trying again anyway: the watch
// normally wakes it at once, this covers an expiry whose marker it did not receive.
const lockRecheck = time.Second

// heldLock is a lock this storage holds: its key's current revision, and the goroutine renewing it.
type heldLock struct {
	key  string
	stop chan struct{} // closed to end the renewal
	done chan struct{} // closed when the renewal has ended

	mu  sync.Mutex
	rev uint64 // the revision of the lock's latest renewal, which Unlock must find to delete it
}

// Lock takes the lock name, waiting while another holder (this process included) has it, or while NATS does
// not answer, until ctx ends. It is taken by creating the key, which fails while it exists; the entry expires
// after LockTTL unless renewed, so a crashed holder blocks the others for at most that long.
func (s *Storage) Lock(ctx context.Context, name string) error {
	key, err := kvKey(lockRoot, name)
	if err != nil {
		return err
	}
	var w keyWatch // started after the first refusal: its updates wake the wait
	defer func() { w.stop() }()
	for {
		rev, err := s.create(ctx, key)
		switch {
		case err == nil:
			return s.hold(name, key, rev)
		case errors.Is(err, jetstream.ErrKeyExists) && w.KeyWatcher == nil:
			// Watching from now on, then trying again, misses no release between the refusal and the watch.
			if w, err = s.startWatch(ctx, key); err == nil {
				continue
			}
			err = fmt.Errorf("watching the holder: %w", err)
		case errors.Is(err, jetstream.ErrKeyExists):
			if ended := waitChange(ctx, w); !ended {
				continue
			}
			w.stop() // its consumer is gone (a node died): watch anew after the next refusal
			w = keyWatch{}
			err = errors.New("the watch of the holder ended")
		}
		// NATS unreachable, or the stream electing a leader: wait and try again, as for a held lock.
		if ctx.Err() != nil {
			return fmt.Errorf("natskv: lock %s: %w", name, errors.Join(err, ctx.Err()))
		}
		if s.ctx.Err() != nil {
			return fmt.Errorf("natskv: lock %s: %w", name, errClosed)
		}
		s.logger.Warn("taking a lock failed; retrying", zap.String("lock", name), zap.Error(err))
		if err := sleep(ctx, lockRecheck); err != nil {
			return fmt.Errorf("natskv: lock %s: %w", name, err)
		}
	}
}

// create makes the lock's key with its TTL, within the request timeout.
func (s *Storage) create(ctx context.Context, key string) (uint64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.kv.Create(ctx, key, []byte(s.owner), jetstream.KeyTTL(s.cfg.LockTTL))
}

// sleep waits d, or returns ctx's error when ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitChange returns when the watched key changes, lockRecheck passes or ctx ends; true when the watch ended
// instead.
func waitChange(ctx context.Context, w keyWatch) (ended bool) {
	t := time.NewTimer(lockRecheck)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case _, ok := <-w.Updates():
		return !ok
	case <-t.C:
	}
	return false
}

// hold records a lock just taken and starts renewing it; when the storage was closed meanwhile, the lock is
// released again (Close released the others) and errClosed returned.
func (s *Storage) hold(name, key string, rev uint64) error {
	l := &heldLock{key: key, rev: rev, stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(l.done) // no renewal was started
		return errors.Join(errClosed, s.release(name, l))
	}
	s.locks[name] = l
	s.wg.Add(1) // under s.mu, so that Close, which takes s.mu first, waits for this renewal too
	s.mu.Unlock()
	go s.renew(name, l)
	return nil
}

// renew rewrites the lock's entry every third of LockTTL, each time with a fresh TTL and only if the entry is
// still the one it last wrote. A failed renewal is retried at the next tick (the lock survives two missed
// ones); one refused because the entry changed means the lock expired and another took it: that is logged,
// loudly, since the holder's work is no longer exclusive, and the renewal ends.
func (s *Storage) renew(name string, l *heldLock) {
	defer s.wg.Done()
	defer close(l.done)
	tick := time.NewTicker(s.cfg.LockTTL / 3)
	defer tick.Stop()
	subject := "$KV." + s.kv.Bucket() + "." + l.key
	for {
		select {
		case <-l.stop:
			return
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		l.mu.Lock()
		rev := l.rev
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
		ack, err := s.js.Publish(ctx, subject, []byte(s.owner),
			jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(s.cfg.LockTTL))
		cancel()
		switch {
		case err == nil:
			l.mu.Lock()
			l.rev = ack.Sequence
			l.mu.Unlock()
		case isWrongLastSequence(err):
			s.logger.Error("lock lost: it expired and was taken over", zap.String("lock", name))
			return
		default:
			s.logger.Warn("renewing a lock failed; retrying", zap.String("lock", name), zap.Error(err))
		}
	}
}

// isWrongLastSequence reports a publish refused because the subject's last message was not the one expected
// (10071, or 10164 on replicated streams).
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// Unlock releases the lock name, which this storage must hold. The entry is deleted only if it is still this
// holder's, so a lock that expired and was taken over is not released from under its new holder.
func (s *Storage) Unlock(_ context.Context, name string) error {
	s.mu.Lock()
	l, ok := s.locks[name]
	if ok {
		delete(s.locks, name)
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("natskv: unlock %s: not held", name)
	}
	return s.release(name, l)
}

// release ends the renewal of a lock and deletes its entry if it is still this holder's.
func (s *Storage) release(name string, l *heldLock) error {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	if err := s.kv.Purge(ctx, l.key, jetstream.LastRevision(rev), jetstream.PurgeTTL(markerTTL)); err != nil {
		if isWrongLastSequence(err) {
			return fmt.Errorf("natskv: unlock %s: the lock had expired and was taken over", name)
		}
		return fmt.Errorf("natskv: unlock %s: %w", name, err)
	}
	return nil
}
