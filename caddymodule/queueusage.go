package caddymodule

import (
	"fmt"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// Why a request holds a usage of its queue, and what this relies on in Caddy (v2.11, caddy.go and
// modules/caddyhttp/app.go):
//
//   - A reload provisions and starts every app of the new config first, makes it current, then stops the old
//     config's apps one by one in map order (so the old sidehook app may stop before or after the old http
//     app), and last cancels the old config's context, which runs the old handlers' Cleanup.
//   - The http app's Stop, on a reload (not when the process exits), does not wait for requests in flight: it
//     starts http.Server.Shutdown on each server and returns. Those requests keep running on the old config's
//     handlers; so do requests the old server still accepts before its Shutdown (the listener is shared with
//     the new server) and the next request on a kept-alive connection that became active before Shutdown
//     closed it. When the sidehook app happens to be stopped before the http app, that window is as long as
//     the http app's Stop takes to start.
//
// All these requests reach the old App after its Stop, holding responses whose clients must not get them
// before their events are stored. So the old App must not be the end of the queue for them:
//
//   - A request that may fire takes a usage (useQueue) before it calls the upstream and gives it back when its
//     events are stored. Stop keeps the App's pool reference of a queue while usages of it are out, and the
//     last one to end gives the reference back: Stop itself never waits, so a reload is never held up by a
//     slow upstream, and nothing is closed under a request.
//   - A request that first asks after Stop gave the reference back borrows the queue from the pool: on a
//     reload the new config holds it, so that is a reference count on the same open Badger. Only when no
//     config holds the directory any more (the config was unloaded, or the process is exiting and the http app
//     stops after this one) does the borrow open the queue for its write, and its release closes it again.
//
// On exit the http app's Stop waits for requests (up to grace_period), so the last usage is given back before
// the process ends, and Badger is closed cleanly; a request cut off by the grace period never answered its
// client, so nothing was promised for it.

// poolChanges serialises taking and giving back queues in the pool. Giving back the last reference closes the
// queue (Badger's Close, outside the pool's own lock); an open of the same directory racing with it would
// fail on Badger's directory lock, so opening waits until the close is done.
var poolChanges sync.Mutex

// useQueue returns the open queue for dir and the release the caller must call exactly once when it has
// stopped writing to it. Caddy starts apps in no fixed order, so the HTTP server may serve a call before this
// app's Start ran; the first usage then opens the queue itself.
func (a *App) useQueue(dir string) (*queueEntry, func(), error) {
	a.mu.Lock()
	if e := a.entries[dir]; e != nil || !a.stopped {
		var err error
		if e == nil {
			if e, err = a.acquireLocked(dir); err != nil {
				a.mu.Unlock()
				return nil, nil, err
			}
		}
		a.inFlight[dir]++
		a.mu.Unlock()
		return e, func() { a.endUse(dir) }, nil
	}
	a.mu.Unlock()
	return a.borrow(dir)
}

// heldQueue is a usage of the handler's queue held for the rest of an observed call (see useQueue): the call's
// events are stored through entry. When the queue could not be had, err says why and release does nothing;
// the enqueue then reports and counts the failure.
type heldQueue struct {
	entry   *queueEntry
	release func()
	err     error
}

// holdQueue takes the observed call's usage of its queue, before it calls the upstream.
func (rt *handlerState) holdQueue() heldQueue {
	entry, release, err := rt.app.useQueue(rt.queueDir)
	if err != nil {
		return heldQueue{release: func() {}, err: err}
	}
	return heldQueue{entry: entry, release: release}
}

// endUse ends a usage taken from this App's own reference; the last one after Stop gives the reference back.
func (a *App) endUse(dir string) {
	a.mu.Lock()
	a.inFlight[dir]--
	last := a.stopped && a.inFlight[dir] == 0 && a.entries[dir] != nil
	if last {
		delete(a.entries, dir)
		delete(a.inFlight, dir)
	}
	a.mu.Unlock()
	if last {
		if err := giveBackQueue(dir); err != nil {
			a.logger.Error("closing queue after the last request of a stopped config", zap.Error(err))
		}
	}
}

// borrow takes a usage straight from the pool, for a request that reaches this App after it gave its own
// reference back.
func (a *App) borrow(dir string) (*queueEntry, func(), error) {
	a.mu.Lock()
	open := a.dirs[dir].open
	a.mu.Unlock()
	e, err := loadQueue(dir, a.openQueue(dir, open))
	if err != nil {
		return nil, nil, err
	}
	release := func() {
		if err := giveBackQueue(dir); err != nil {
			a.logger.Error("closing queue borrowed by a request of a stopped config", zap.Error(err))
		}
	}
	return e, release, nil
}

// openQueue is the pool's constructor for dir, opened by open.
func (a *App) openQueue(dir string, open queueOpener) caddy.Constructor {
	return func() (caddy.Destructor, error) {
		q, err := open(a.logger.Named("queue"))
		if err != nil {
			return nil, fmt.Errorf("opening queue %s: %w", dir, err)
		}
		return &queueEntry{dir: dir, q: q, endpoints: &endpointSet{}}, nil
	}
}

// giveBackQueue drops one pool reference to dir's queue, closing it when it was the last.
func giveBackQueue(dir string) error {
	poolChanges.Lock()
	defer poolChanges.Unlock()
	if _, err := queues.Delete(dir); err != nil {
		return fmt.Errorf("closing queue %s: %w", dir, err)
	}
	return nil
}
