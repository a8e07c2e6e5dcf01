//go:build !unix

package badgerstore

import (
	"testing"
	"time"
)

// reportCPU reports nothing where getrusage is missing.
func reportCPU(*testing.B) func() { return func() {} }

// waitProcessIdle cannot tell without getrusage: it returns at once.
func waitProcessIdle(time.Duration) {}
