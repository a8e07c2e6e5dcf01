package queue

import "sync/atomic"

// Stats are the queue's numbers for the admin API and metrics. Depth counts jobs waiting (queued,
// not being attempted); Delivered, Dead, Failed (failed attempts) and Limited count since the queue
// was opened. The JSON names are the admin API's (/sidehook/stats), fixed here so operators'
// scripts can rely on them.
type Stats struct {
	Depth     uint64 `json:"depth"`
	InFlight  uint64 `json:"in_flight"`
	Dead      uint64 `json:"dead"`
	Delivered uint64 `json:"delivered"`
	Failed    uint64 `json:"failed"`
	Limited   uint64 `json:"limited"`
	// Disk is the store's disk view; nil when it has none.
	Disk *DiskSpace `json:"disk,omitempty"`
}

type counters struct {
	depth     atomic.Int64 // jobs in the store, in flight included
	delivered atomic.Uint64
	dead      atomic.Uint64
	failed    atomic.Uint64
	limited   atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (q *Queue) Stats() Stats {
	inFlight := int64(q.sched.inFlight())
	waiting := max(q.stats.depth.Load()-inFlight, 0)
	return Stats{
		Depth:     uint64(waiting),
		InFlight:  uint64(inFlight),
		Dead:      q.stats.dead.Load(),
		Delivered: q.stats.delivered.Load(),
		Failed:    q.stats.failed.Load(),
		Limited:   q.stats.limited.Load(),
		Disk:      q.st.Disk(),
	}
}
