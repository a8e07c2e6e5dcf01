package queue

import "sync/atomic"

// Stats are the queue's numbers for the admin API and metrics. Depth counts
// jobs waiting (queued, not being attempted); Delivered, Dead, Failed (failed
// attempts) and Limited count since the queue was opened. The JSON names are
// the admin API's (/sidehook/stats), fixed here so operators' scripts can rely
// on them.
type Stats struct {
	Depth     uint64 `json:"depth"`
	InFlight  uint64 `json:"in_flight"`
	Dead      uint64 `json:"dead"`
	Delivered uint64 `json:"delivered"`
	Failed    uint64 `json:"failed"`
	Limited   uint64 `json:"limited"`
	// Disk is the disk gate's view (diskspace.go); nil where it cannot
	// measure.
	Disk *DiskSpace `json:"disk,omitempty"`
}

type counters struct {
	depth     atomic.Int64 // job keys in Badger, in flight included
	delivered atomic.Uint64
	dead      atomic.Uint64
	gone      atomic.Uint64 // final 410s, counted only to notice finished jobs
	failed    atomic.Uint64
	limited   atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (q *Queue) Stats() Stats {
	inFlight := int64(q.sched.inFlightCount())
	waiting := max(q.stats.depth.Load()-inFlight, 0)
	return Stats{
		Depth:     uint64(waiting),
		InFlight:  uint64(inFlight),
		Dead:      q.stats.dead.Load(),
		Delivered: q.stats.delivered.Load(),
		Failed:    q.stats.failed.Load(),
		Limited:   q.stats.limited.Load(),
		Disk:      q.disk.view(),
	}
}
