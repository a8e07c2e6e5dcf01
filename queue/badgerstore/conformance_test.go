package badgerstore

import (
	"testing"

	"github.com/sidehook/sidehook/queue/store"
	"github.com/sidehook/sidehook/queue/store/storetest"
)

// The store keeps the contract of package store.
func TestConformance(t *testing.T) {
	storetest.Run(t,
		func(t *testing.T) store.Store { return openStore(t, "") },
		storetest.WithReopen(func(t *testing.T, old store.Store) store.Store {
			s := old.(*Store)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return openStore(t, s.dir)
		}))
}
