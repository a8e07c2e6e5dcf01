package badgerstore

import (
	"context"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

// The daily count survives a restart: it is loaded from its persisted counter.
func TestDailyLimitSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	p := testPolicy
	p.DailyLimit = 3
	queue := func(s *Store, n int, now time.Time) (queued int) {
		t.Helper()
		var evs []store.Event
		for range n {
			evs = append(evs, newEvent(testURL))
		}
		res, err := s.Enqueue(context.Background(), evs, now, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range res.Queued {
			if q {
				queued++
			}
		}
		return queued
	}
	if got := queue(s, 2, time.Now()); got != 2 {
		t.Fatalf("queued %d of 2 under a limit of 3", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	if got := queue(s, 2, time.Now()); got != 1 {
		t.Errorf("after reopen: queued %d of 2, want 1 (two of three used before)", got)
	}
	if got := queue(s, 1, time.Now().Add(24*time.Hour)); got != 1 {
		t.Errorf("next day: queued %d, want 1", got)
	}
}

// DailyLimit 0 is no limit.
func TestDailyLimitZeroMeansNone(t *testing.T) {
	s := openStore(t, "")
	var evs []store.Event
	for range 20 {
		evs = append(evs, newEvent(testURL))
	}
	res := enqueue(t, s, evs...)
	for i, q := range res.Queued {
		if !q {
			t.Errorf("event %d limited without a limit", i)
		}
	}
}
