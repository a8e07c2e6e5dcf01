package freeport

import "testing"

// Ports handed out in one process are all different, even when the kernel would give one again.
func TestPortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := Port(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}
