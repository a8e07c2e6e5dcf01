//go:build unix

package proccpu

import "testing"

// Used grows with work the process does: a reading that stood still would make every cpu-ns/op zero.
func TestUsedGrowsWithWork(t *testing.T) {
	before, ok := Used()
	if !ok {
		t.Fatal("Used cannot read the CPU time on a unix system")
	}
	sum := 0
	for i := 0; i < 1e8; i++ { // bounded busy work, some tens of milliseconds of CPU
		sum += i ^ (sum >> 3)
	}
	after, _ := Used()
	if after <= before {
		t.Fatalf("Used went from %v to %v over busy work (sum %d)", before, after, sum)
	}
}
