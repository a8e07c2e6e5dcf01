package caddymodule

import "github.com/sidehook/sidehook/proxy"

// defaultMemoryBudget caps the bytes that all observed calls of this process may have in memory at once (the
// held responses and every copy made while their events are built and stored); over it, calls pass through
// unobserved (fail open) instead of growing memory.
const defaultMemoryBudget = 256 << 20

// gcHeadroom: the Go heap grows to twice its live bytes before the garbage collector runs (GOGC=100), and the
// copies of a call that has ended stay resident until then. So that memory_budget bounds the memory the process
// really takes, observed calls may reserve only memory_budget / gcHeadroom; the rest is the collector's slack.
const gcHeadroom = 2

// memoryBudget is one per process, not per config: during a `caddy reload` the calls of the old config and of
// the new one are in flight together, and it is the process's memory that the budget protects.
var memoryBudget = proxy.NewBudget(defaultMemoryBudget / gcHeadroom)
