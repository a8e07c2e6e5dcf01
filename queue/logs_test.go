package queue

import (
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func TestLogsNewestFirstPerClient(t *testing.T) {
	q := openQueue(t, "")
	cfg := testConfig()
	cfg.Paused = true
	q.Configure(cfg, newFakeEndpoints())
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var ids = map[string][]string{}
	for i := range 6 {
		client := []string{"A", "B"}[i%2]
		m := newMessage("http://127.0.0.1:1/")
		m.ClientID = client
		m.Created = base.Add(time.Duration(i) * time.Minute)
		enqueue(t, q, m)
		ids[client] = append(ids[client], m.ID)
	}
	tests := []struct {
		name  string
		query LogQuery
		want  []string
	}{
		{"client A newest first", LogQuery{ClientID: "A"}, reversed(ids["A"])},
		{"client B limited to 2", LogQuery{ClientID: "B", Limit: 2}, reversed(ids["B"])[:2]},
		{"unknown client sees nothing", LogQuery{ClientID: "C"}, nil},
		{"client prefix is not a match", LogQuery{ClientID: ""}, nil},
		{"any client, newest first", LogQuery{AnyClient: true, Limit: 3}, []string{ids["B"][2], ids["A"][2], ids["B"][1]}},
		{"status filter", LogQuery{ClientID: "A", Status: StatusDelivered}, nil},
		{"status filter pending", LogQuery{ClientID: "A", Status: StatusPending, Limit: 1}, []string{ids["A"][2]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := q.Logs(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Logs = %v, want %v", got, tt.want)
			}
		})
	}
	item := logOf(t, q, ids["A"][0])
	if item.Added != "2026-11-23 10:00:00" || item.Status != StatusPending || item.IsProcessed != "0" || item.Processed != "" {
		t.Errorf("pending item = %+v", item)
	}
	if _, ok, err := q.Log("msg_nope"); ok || err != nil {
		t.Errorf("Log(unknown) = %v, %v", ok, err)
	}
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func TestLogsExpireAfterKeepLogsButPendingDoNot(t *testing.T) {
	rc := newReceiver(t, statuses(200))
	q := openQueue(t, "")
	cfg := testConfig()
	cfg.KeepLogs = time.Hour
	cfg.Paused = true
	q.Configure(cfg, newFakeEndpoints())
	msg := newMessage(rc.srv.URL)
	enqueue(t, q, msg)

	keys := func(id string, created int64, client string) [][]byte {
		return [][]byte{recordKey(id), indexAllKey(created, id), indexClientKey(client, created, id)}
	}
	expiry := func(key []byte) uint64 {
		var at uint64
		err := q.db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(key)
			if err != nil {
				return err
			}
			at = item.ExpiresAt()
			return nil
		})
		if err != nil {
			t.Fatalf("read %q: %v", key, err)
		}
		return at
	}
	if at := expiry(recordKey(msg.ID)); at != 0 {
		t.Errorf("pending state expires at %d; pending events must not expire", at)
	}
	// The index keys last the record's whole pending life on its schedule, and keep_logs after it.
	least := uint64(time.Now().Add(cfg.KeepLogs + pendingSpan(cfg.Retry)).Unix())
	for _, k := range keys(msg.ID, msg.Created.UnixNano(), msg.ClientID)[1:] {
		if at := expiry(k); at < least-60 || at > least+60 {
			t.Errorf("pending index key %q expires at %d, want about %d", k, at, least)
		}
	}
	cfg.Paused = false
	q.Configure(cfg, newFakeEndpoints())
	waitFor(t, 5*time.Second, statusIs(t, q, msg.ID, StatusDelivered))
	want := uint64(time.Now().Add(time.Hour).Unix())
	for _, k := range keys(msg.ID, msg.Created.UnixNano(), msg.ClientID) {
		if at := expiry(k); at < want-60 || at > want+60 {
			t.Errorf("final entry %q expires at %d, want about %d", k, at, want)
		}
	}
	// The job entry is gone once final.
	err := q.db.View(func(txn *badger.Txn) error {
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

// With a keep_logs long beside the retry schedule (the default 30 days) the final outcome writes the state only:
// the index keys Enqueue wrote already expire within a quarter of keep_logs after the state. A record whose
// pending life outgrows them (here: keep_logs raised while it waits) has them extended with the next write of its
// state (here a Retry's).
func TestIndexKeysAreNotRewrittenAtTheFinalOutcome(t *testing.T) {
	rc := newReceiver(t, statuses(500, 200))
	q := openQueue(t, "")
	cfg := testConfig()
	cfg.KeepLogs = 30 * 24 * time.Hour
	cfg.Retry = []time.Duration{time.Hour}
	q.Configure(cfg, newFakeEndpoints())
	delivered, extended := newMessage(rc.srv.URL), newMessage(rc.srv.URL)
	rc.setRespond(statuses(200))
	enqueue(t, q, delivered)
	waitFor(t, 5*time.Second, statusIs(t, q, delivered.ID, StatusDelivered))
	idx := indexAllKey(delivered.Created.UnixNano(), delivered.ID)
	state, index := readEntry(t, q, recordKey(delivered.ID)), readEntry(t, q, idx)
	if index.version >= state.version {
		t.Errorf("the final outcome rewrote the index keys (version %d, state %d)", index.version, state.version)
	}
	if index.expiresAt < state.expiresAt || index.expiresAt > state.expiresAt+uint64((cfg.KeepLogs/4).Seconds()) {
		t.Errorf("index key expires at %d, the state at %d: not within a quarter of keep_logs after it", index.expiresAt, state.expiresAt)
	}

	rc.setRespond(statuses(500))
	enqueue(t, q, extended)
	waitFor(t, 5*time.Second, statusIs(t, q, extended.ID, StatusRetrying))
	before := readEntry(t, q, indexClientKey(extended.ClientID, extended.Created.UnixNano(), extended.ID))
	cfg.KeepLogs = 90 * 24 * time.Hour
	q.Configure(cfg, newFakeEndpoints())
	if err := q.Retry(extended.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return logOf(t, q, extended.ID).Attempts == 2 })
	after := readEntry(t, q, indexClientKey(extended.ClientID, extended.Created.UnixNano(), extended.ID))
	if want := uint64(time.Now().Add(cfg.KeepLogs).Unix()); after.expiresAt < want || after.expiresAt <= before.expiresAt {
		t.Errorf("index key of a record pending past its expiry: expires at %d (was %d), want at least %d", after.expiresAt, before.expiresAt, want)
	}
	items, err := q.Logs(LogQuery{ClientID: extended.ClientID, Limit: 10})
	if err != nil || len(items) != 2 {
		t.Errorf("getLogs lists %d items (%v), want both", len(items), err)
	}
}

// Hide leaves out the items of the subscriptions it names before Limit counts, so a caller that may not see
// them still gets Limit items of the ones it may see.
func TestLogsHideLeavesOutItemsBeforeTheLimit(t *testing.T) {
	q := openQueue(t, "")
	cfg := testConfig()
	cfg.Paused = true
	q.Configure(cfg, newFakeEndpoints())
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var visible []string
	for i := range 6 {
		m := newMessage("http://127.0.0.1:1/")
		m.SubscriptionUID = []string{"own", "operator"}[i%2]
		m.Created = base.Add(time.Duration(i) * time.Minute)
		enqueue(t, q, m)
		if m.SubscriptionUID == "own" {
			visible = append(visible, m.ID)
		}
	}
	items, err := q.Logs(LogQuery{ClientID: "42", Limit: 2, Hide: func(uid string) bool { return uid == "operator" }})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.ID)
	}
	if want := reversed(visible)[:2]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Logs with Hide = %v, want the two newest of the visible items %v", got, want)
	}
}
