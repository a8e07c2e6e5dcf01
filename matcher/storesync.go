package matcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"go.uber.org/zap"
)

// pollTimeout bounds one poll's storage I/O, so a hung backend delays the next poll instead of
// stopping polling for good.
const pollTimeout = 30 * time.Second

// forceReload is a version no marker can have: it makes the next poll reload everything. It is
// set when this instance is unsure its state matches storage.
const forceReload = "\x00reload"

// storageKeys names the objects of a store under its prefix.
type storageKeys struct{ prefix string }

func (k storageKeys) subscriptionsDir() string { return k.prefix + "/subscriptions" }
func (k storageKeys) subscription(uid string) string {
	return k.subscriptionsDir() + "/" + uid + ".json"
}
func (k storageKeys) version() string                  { return VersionKey(k.prefix) }
func (k storageKeys) staticDisabledDir() string        { return k.prefix + "/static-disabled" }
func (k storageKeys) staticDisabled(uid string) string { return k.staticDisabledDir() + "/" + uid }
func (k storageKeys) lock() string                     { return k.prefix + "-subscriptions" }

// VersionKey is the storage key rewritten on every change of the subscriptions of a store with this
// prefix: what a StoreConfig.Changed signal watches.
func VersionKey(prefix string) string { return prefix + "/subscriptions.version" }

// pollLoop polls on every tick and every Changed signal until ctx is cancelled, then closes done.
func (s *Store) pollLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	ticker := time.NewTicker(s.pollInterval)
	defer ticker.Stop()
	changed := s.changed
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case _, ok := <-changed:
			if !ok {
				changed = nil // a nil channel never receives: the timer alone drives polls from now on
				continue
			}
		}
		pollCtx, cancel := context.WithTimeout(ctx, pollTimeout)
		err := s.Poll(pollCtx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("polling subscriptions failed; keeping the current ones", zap.Error(err))
		}
	}
}

// Poll reads the version marker and reloads every subscription only when it changed. The poller
// calls it; it is exported for callers that want a change seen now rather than at the next tick.
func (s *Store) Poll(ctx context.Context) error {
	version, err := s.readVersion(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if version == s.version && s.loaded {
		return nil
	}
	return s.reloadLocked(ctx)
}

// reloadLocked reads everything from storage and publishes it; s.mu must be held. The marker is
// read before listing: a change racing the reload then leaves a marker newer than the one
// recorded, and the next poll catches it.
func (s *Store) reloadLocked(ctx context.Context) error {
	version, err := s.readVersion(ctx)
	if err != nil {
		return err
	}
	dynamic, err := s.loadSubscriptions(ctx)
	if err != nil {
		return err
	}
	disabled, err := s.listUIDs(ctx, s.keys.staticDisabledDir())
	if err != nil {
		return fmt.Errorf("list disabled static subscriptions: %w", err)
	}
	s.dynamic = dynamic
	for _, uid := range disabled {
		s.staticDisabled[uid] = true // only ever added: nothing re-enables a static subscription
	}
	s.version, s.loaded = version, true
	s.publishLocked()
	return nil
}

// readVersion returns the version marker, "" when there is none yet.
func (s *Store) readVersion(ctx context.Context) (string, error) {
	b, err := s.storage.Load(ctx, s.keys.version())
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read subscriptions version: %w", err)
	}
	return string(b), nil
}

// loadSubscriptions reads every stored subscription. An object that does not decode is logged and
// skipped, so one bad object does not hide the others; one deleted between list and load is
// simply gone.
func (s *Store) loadSubscriptions(ctx context.Context) (map[string]*Subscription, error) {
	keys, err := s.storage.List(ctx, s.keys.subscriptionsDir(), false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	subs := make(map[string]*Subscription, len(keys))
	for _, key := range keys {
		uid, ok := strings.CutSuffix(path.Base(key), ".json")
		if !ok || !validUID(uid) {
			continue // not ours, e.g. a backend's temporary file
		}
		data, err := s.storage.Load(ctx, s.keys.subscription(uid))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load subscription %s: %w", uid, err)
		}
		sub := new(Subscription)
		if err := json.Unmarshal(data, sub); err != nil {
			s.logger.Error("skipping undecodable subscription", zap.String("uid", uid), zap.Error(err))
			continue
		}
		sub.UID, sub.Static = uid, false
		subs[uid] = sub
	}
	return subs, nil
}

// listUIDs returns the base names of the objects under dir that are valid UIDs.
func (s *Store) listUIDs(ctx context.Context, dir string) ([]string, error) {
	keys, err := s.storage.List(ctx, dir, false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	uids := make([]string, 0, len(keys))
	for _, key := range keys {
		if uid := path.Base(key); validUID(uid) {
			uids = append(uids, uid)
		}
	}
	return uids, nil
}

// writeLocked runs write and then rewrites the version marker, both under the storage lock so
// that two instances' changes never interleave; s.mu must be held. When the marker it found was
// not the one this instance last saw, another instance changed something this one has not
// loaded yet: the recorded version is then left stale so that the next poll reloads it all. A write that
// fails with an unchanged error wrote nothing, and leaves the recorded version as it was.
func (s *Store) writeLocked(ctx context.Context, write func(context.Context) error) error {
	if err := s.storage.Lock(ctx, s.keys.lock()); err != nil {
		return fmt.Errorf("lock subscriptions: %w", err)
	}
	defer func() {
		if err := s.storage.Unlock(context.WithoutCancel(ctx), s.keys.lock()); err != nil {
			s.logger.Error("unlocking subscriptions failed", zap.Error(err))
		}
	}()
	seen, err := s.readVersion(ctx)
	if err != nil {
		return err
	}
	if err := write(ctx); err != nil {
		if !errors.As(err, new(unchanged)) {
			s.version = forceReload // the write may have half-happened
		}
		return err
	}
	next, err := NewUID()
	if err != nil {
		s.version = forceReload
		return err
	}
	if err := s.storage.Store(ctx, s.keys.version(), []byte(next)); err != nil {
		s.version = forceReload
		return fmt.Errorf("write subscriptions version: %w", err)
	}
	if seen == s.version {
		s.version = next
	} else {
		s.version = forceReload
	}
	return nil
}
