package badgerstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/sidehook/sidehook/queue/store"
)

// A pending state never expires; its index keys last its whole pending life and KeepLogs after; a
// final state and its index keys expire KeepLogs after the outcome, and the job key is gone.
func TestLogsExpireAfterKeepLogsButPendingDoNot(t *testing.T) {
	s := openStore(t, "")
	ev := newEvent(testURL)
	enqueue(t, s, ev)
	if at := readEntry(t, s, recordKey(ev.ID)).expiresAt; at != 0 {
		t.Errorf("pending state expires at %d; pending events must not expire", at)
	}
	index := [][]byte{indexAllKey(ev.Created, ev.ID), indexClientKey(ev.ClientID, ev.Created, ev.ID)}
	least := uint64(time.Now().Add(testPolicy.KeepLogs + testPolicy.PendingSpan).Unix())
	for _, k := range index {
		if at := readEntry(t, s, k).expiresAt; at < least-60 || at > least+60 {
			t.Errorf("pending index key %q expires at %d, want about %d", k, at, least)
		}
	}
	if err := s.Record([]store.Outcome{deliveredNow(claimOne(t, s, ev.ID))}, testPolicy); err != nil {
		t.Fatal(err)
	}
	want := uint64(time.Now().Add(testPolicy.KeepLogs).Unix())
	if at := readEntry(t, s, recordKey(ev.ID)).expiresAt; at < want-60 || at > want+60 {
		t.Errorf("final state expires at %d, want about %d", at, want)
	}
	for _, k := range index {
		// PendingSpan (an hour) is more than a quarter of KeepLogs (an hour): rewritten.
		if at := readEntry(t, s, k).expiresAt; at < want-60 || at > want+60 {
			t.Errorf("final index key %q expires at %d, want about %d", k, at, want)
		}
	}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixJob})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			return fmt.Errorf("job key %q left after delivery", it.Item().Key())
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// With KeepLogs long beside PendingSpan (30 days) the final outcome writes the state only: the
// index keys Enqueue wrote already expire within a quarter of KeepLogs after the state. A record
// whose pending life outgrows them (here: KeepLogs raised while it waits) has them extended with
// the next write of its state (here a Retry's).
func TestIndexKeysAreNotRewrittenAtTheFinalOutcome(t *testing.T) {
	s := openStore(t, "")
	p := store.Policy{KeepLogs: 30 * 24 * time.Hour, PendingSpan: 36 * time.Hour}
	delivered, extended := newEvent(testURL), newEvent("http://127.0.0.1:2/hook")
	if _, err := s.Enqueue(t.Context(), []store.Event{delivered, extended}, time.Now(), p); err != nil {
		t.Fatal(err)
	}
	if err := s.Record([]store.Outcome{deliveredNow(claimOne(t, s, delivered.ID))}, p); err != nil {
		t.Fatal(err)
	}
	state, index := readEntry(t, s, recordKey(delivered.ID)), readEntry(t, s, indexAllKey(delivered.Created, delivered.ID))
	if index.version >= state.version {
		t.Errorf("the final outcome rewrote the index keys (version %d, state %d)", index.version, state.version)
	}
	if index.expiresAt < state.expiresAt || index.expiresAt > state.expiresAt+uint64((p.KeepLogs/4).Seconds()) {
		t.Errorf("index key expires at %d, the state at %d: not within a quarter of KeepLogs after it", index.expiresAt, state.expiresAt)
	}

	key := indexClientKey(extended.ClientID, extended.Created, extended.ID)
	before := readEntry(t, s, key)
	p.KeepLogs = 90 * 24 * time.Hour
	if _, err := s.Retry(extended.ID, time.Now(), p); err != nil {
		t.Fatal(err)
	}
	after := readEntry(t, s, key)
	if want := uint64(time.Now().Add(p.KeepLogs).Unix()); after.expiresAt < want || after.expiresAt <= before.expiresAt {
		t.Errorf("index key of a record pending past its expiry: expires at %d (was %d), want at least %d", after.expiresAt, before.expiresAt, want)
	}
	items, err := s.Logs(store.LogQuery{ClientID: extended.ClientID, Limit: 10})
	if err != nil || len(items) != 2 {
		t.Errorf("Logs lists %d items (%v), want both", len(items), err)
	}
}
