package caddymodule

import (
	"time"

	"go.uber.org/zap"
)

// clusterReopenEvery is how often a cluster's queue that could not be opened (NATS unreachable, or without
// quorum to create its streams) is tried again. Meanwhile calls fail fast instead of each waiting for NATS's
// connect timeout: sidehook fails open, so the API in front of it must not slow down because the store of
// its webhooks is away.
const clusterReopenEvery = 5 * time.Second

// reopenLoop tries to open a cluster's queue every clusterReopenEvery until it opens (then firing and
// delivery resume by themselves: requests find the queue open) or the config stops. It opens without a.mu,
// so that requests, which fail fast on openFailures meanwhile, never wait for NATS's connect timeout.
func (a *App) reopenLoop(dir string, stopping <-chan struct{}) {
	a.mu.Lock()
	dc := a.dirs[dir]
	a.mu.Unlock()
	tick := time.NewTicker(clusterReopenEvery)
	defer tick.Stop()
	for {
		select {
		case <-stopping:
			return
		case <-tick.C:
		}
		e, err := loadQueue(dir, a.openQueue(dir, dc.open))
		a.mu.Lock()
		if err != nil {
			a.openFailures[dir] = err
			a.mu.Unlock()
			continue
		}
		if a.stopped || a.entries[dir] != nil {
			// The config stopped meanwhile, or already holds the queue: this reference is one too many.
			a.mu.Unlock()
			if err := giveBackQueue(dir); err != nil {
				a.logger.Error("giving back a cluster queue opened after its config stopped", zap.Error(err))
			}
			return
		}
		delete(a.openFailures, dir)
		a.installLocked(dir, dc, e)
		a.mu.Unlock()
		a.logger.Info("the cluster's queue is open: events are stored and delivered again", zap.String("queue", dir))
		return
	}
}
