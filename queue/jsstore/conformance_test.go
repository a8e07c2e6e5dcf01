package jsstore

import (
	"testing"

	"github.com/sidehook/sidehook/internal/natstest"
	"github.com/sidehook/sidehook/queue/store"
	"github.com/sidehook/sidehook/queue/store/storetest"
)

// The JetStream store keeps the contract of package store on one node: every rule, restarts included (a
// reopen is a new connection to the same streams, as a restarted process would make).
func TestConformanceSingleNode(t *testing.T) {
	srv := natstest.StartNode(t)
	runConformance(t, []string{srv.URL()}, 1)
}

// On a three-node cluster with every stream replicated three times, the contract holds the same.
func TestConformanceCluster(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	runConformance(t, c.URLs(), 3)
}

func runConformance(t *testing.T, urls []string, replicas int) {
	open := func(t *testing.T) store.Store {
		cfg := testConfig(urls, replicas)
		dropStreams(t, cfg)
		s, err := Open(cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
	reopen := func(t *testing.T, s store.Store) store.Store {
		cfg := s.(*Store).cfg
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		again, err := Open(cfg)
		if err != nil {
			t.Fatalf("reopening: %v", err)
		}
		return again
	}
	storetest.Run(t, open, storetest.WithReopen(reopen))
}
