// Package badgerstore is the embedded implementation of the queue's storage seam (queue/store):
// one process, one Badger directory.
//
// PLACEHOLDER while the queue is rebuilt on the seam: every method fails. The real implementation
// replaces this file; nothing may land with it.
package badgerstore

import (
	"context"
	"errors"
	"time"

	"github.com/sidehook/sidehook/queue/store"
	"go.uber.org/zap"
)

var errPlaceholder = errors.New("badgerstore: placeholder, not implemented yet")

// Store is a store.Store kept in one Badger directory.
type Store struct{}

var (
	_ store.Store      = (*Store)(nil)
	_ store.Maintained = (*Store)(nil)
)

// Open opens (or creates) the Badger database in dir.
func Open(dir string, logger *zap.Logger) (*Store, error) { return nil, errPlaceholder }

func (s *Store) Enqueue(context.Context, []store.Event, time.Time, store.Policy) (store.EnqueueResult, error) {
	return store.EnqueueResult{}, errPlaceholder
}
func (s *Store) Claim(string, int64, int) ([]store.Job, int64, error) { return nil, 0, errPlaceholder }
func (s *Store) Release([]store.Job)                                  {}
func (s *Store) Record([]store.Outcome, store.Policy) error           { return errPlaceholder }
func (s *Store) Retry(string, time.Time, store.Policy) (bool, error)  { return false, errPlaceholder }
func (s *Store) Logs(store.LogQuery) ([]store.LogItem, error)         { return nil, errPlaceholder }
func (s *Store) Log(string) (store.LogItem, bool, error) {
	return store.LogItem{}, false, errPlaceholder
}
func (s *Store) Watch(func(string, int64))            {}
func (s *Store) Jobs() (int, error)                   { return 0, errPlaceholder }
func (s *Store) Writable() bool                       { return false }
func (s *Store) Disk() *store.DiskSpace               { return nil }
func (s *Store) Close() error                         { return nil }
func (s *Store) SetMaintenanceInterval(time.Duration) {}
