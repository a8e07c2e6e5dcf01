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
	for _, k := range keys(msg.ID, msg.Created.UnixNano(), msg.ClientID) {
		if at := expiry(k); at != 0 {
			t.Errorf("pending entry %q expires at %d; pending events must not expire", k, at)
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
