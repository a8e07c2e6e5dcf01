//go:build race

package caddymodule

// raceEnabled: the race detector adds allocations of its own, so what firing allocates is only compared
// with its reservation without it.
const raceEnabled = true
