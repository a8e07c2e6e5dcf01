//go:build !unix

package proccpu

import "time"

// Used cannot read the process's CPU time without getrusage: it reports false.
func Used() (time.Duration, bool) { return 0, false }
