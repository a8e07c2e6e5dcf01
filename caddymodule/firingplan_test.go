package caddymodule

import "testing"

// A plan has a slot per leaf call; the plan of a one-call request (the common case) is a single allocation.
func TestFiringPlanSizes(t *testing.T) {
	for _, calls := range []int{1, 2, 5} {
		if p := newFiringPlan(calls); len(p.subs) != calls || len(p.ids) != calls {
			t.Errorf("plan for %d calls has %d subscription slots and %d identities", calls, len(p.subs), len(p.ids))
		}
	}
	if raceEnabled {
		return // the race detector's own allocations are counted too
	}
	if n := testing.AllocsPerRun(50, func() { _ = newFiringPlan(1) }); n != 1 {
		t.Errorf("plan for one call: %v allocations, want 1", n)
	}
}
