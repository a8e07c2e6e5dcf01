//go:build race

package proxy

// raceEnabled: the race detector makes sync.Pool drop items on purpose and adds allocations, so
// allocation counts are only asserted without it.
const raceEnabled = true
