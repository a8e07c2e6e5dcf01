//go:build !linux

package queue

// mappedReleaser exists on Linux only (mapped_linux.go): elsewhere Badger's
// mapped pages are left to the kernel.
type mappedReleaser struct{}

func newMappedReleaser(string) *mappedReleaser { return nil }

func (q *Queue) mappedLoop(*mappedReleaser) { q.bgDone.Done() }
