package memstore

import (
	"testing"

	"github.com/sidehook/sidehook/queue/store"
	"github.com/sidehook/sidehook/queue/store/storetest"
)

// The memory store keeps the contract of package store, as the Badger store does: the engine's
// tests, which run on it, would otherwise prove nothing about the engine over a real store. It has
// nothing to reopen, so the rules about a restart are skipped.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return New() })
}
