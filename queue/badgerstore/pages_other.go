//go:build !linux

package badgerstore

// mappedReleaser exists on Linux only (pages_linux.go): elsewhere Badger's
// mapped pages are left to the kernel.
type mappedReleaser struct{}

func newMappedReleaser(string) *mappedReleaser { return nil }

func (s *Store) pagesLoop(*mappedReleaser) { s.bgDone.Done() }
