package queue

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// entryInfo is the version and expiry of one key, or found=false.
type entryInfo struct {
	found     bool
	version   uint64
	expiresAt uint64
	value     []byte
}

func readEntry(t *testing.T, q *Queue, key []byte) entryInfo {
	t.Helper()
	var info entryInfo
	err := q.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		info.found, info.version, info.expiresAt = true, item.Version(), item.ExpiresAt()
		info.value, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return info
}

// The body is stored once, at Enqueue, under its own key and without a TTL: a failed attempt rewrites only the
// small state entry, and the final outcome gives the state and index keys the log's TTL but leaves the body
// alone (sweepBodies deletes it once the state has expired).
func TestBodyIsWrittenOnce(t *testing.T) {
	rc := newReceiver(t, statuses(500, 500, 200))
	q := openQueue(t, "")
	cfg := testConfig()
	cfg.Retry = []time.Duration{time.Hour, time.Hour}
	cfg.KeepLogs = time.Hour
	// Paused until the entries Enqueue wrote are read: a first attempt made before that would be taken for them.
	cfg.Paused = true
	q.Configure(cfg, newFakeEndpoints())
	msg := newMessage(rc.srv.URL)
	enqueue(t, q, msg)
	body := readEntry(t, q, bodyKey(msg.ID))
	if !body.found || string(body.value) != string(msg.Body) || body.expiresAt != 0 {
		t.Fatalf("body entry after Enqueue: %+v", body)
	}
	state := readEntry(t, q, recordKey(msg.ID))
	if rec, err := decodeRecord(state.value); err != nil || len(rec.Body) != 0 {
		t.Fatalf("stored state carries the body (%d bytes) or does not decode: %v", len(rec.Body), err)
	}
	cfg.Paused = false
	q.Configure(cfg, newFakeEndpoints())

	waitFor(t, 5*time.Second, statusIs(t, q, msg.ID, StatusRetrying))
	after := readEntry(t, q, bodyKey(msg.ID))
	if after.version != body.version {
		t.Errorf("a failed attempt rewrote the body (version %d, then %d)", body.version, after.version)
	}
	if s := readEntry(t, q, recordKey(msg.ID)); s.version == state.version {
		t.Error("the failed attempt did not update the state")
	}
	item := logOf(t, q, msg.ID)
	if item.RequestData != string(msg.Body) || item.Attempts != 1 || item.ResponseCode != 500 {
		t.Errorf("log after a failed attempt: %+v", item)
	}

	// Retry of a pending item: only the state again.
	if err := q.Retry(msg.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return logOf(t, q, msg.ID).Attempts == 2 })
	if v := readEntry(t, q, bodyKey(msg.ID)).version; v != body.version {
		t.Errorf("Retry of a pending item rewrote the body")
	}

	// Final: the state and index keys get the log's TTL; the body is not written again.
	if err := q.Retry(msg.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, statusIs(t, q, msg.ID, StatusDelivered))
	want := uint64(time.Now().Add(time.Hour).Unix())
	if final := readEntry(t, q, bodyKey(msg.ID)); final.version != body.version || final.expiresAt != 0 {
		t.Errorf("final body entry %+v: the final outcome rewrote the body", final)
	}
	if s := readEntry(t, q, recordKey(msg.ID)); s.expiresAt < want-60 || s.expiresAt > want+60 {
		t.Errorf("state expires at %d, want about %d", s.expiresAt, want)
	}
	if i := readEntry(t, q, indexAllKey(msg.Created.UnixNano(), msg.ID)); i.expiresAt < want-60 || i.expiresAt > want+60 {
		t.Errorf("index key expires at %d, want about %d", i.expiresAt, want)
	}
	reqs := rc.requests()
	for i, r := range reqs {
		if string(r.body) != string(msg.Body) {
			t.Errorf("attempt %d posted %q", i, r.body)
		}
	}

	// Reopening a delivered item whose body an earlier version gave the log's TTL takes it off again, so the
	// body cannot expire while the job is pending.
	rc.setRespond(statuses(500))
	cfg.Paused = true
	q.Configure(cfg, newFakeEndpoints())
	err := q.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(bodyKey(msg.ID), msg.Body).WithTTL(time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Retry(msg.ID); err != nil {
		t.Fatal(err)
	}
	if b := readEntry(t, q, bodyKey(msg.ID)); b.expiresAt != 0 || string(b.value) != string(msg.Body) {
		t.Errorf("body of a reopened item: %+v", b)
	}
	cfg.Paused = false
	q.Configure(cfg, newFakeEndpoints())
	waitFor(t, 5*time.Second, statusIs(t, q, msg.ID, StatusDead))
	if got := logOf(t, q, msg.ID).RequestData; got != string(msg.Body) {
		t.Errorf("request_data of the dead item = %q", got)
	}
}

// A record written by the earlier single-entry layout (body inline in r/<id>) is still delivered with its
// body, and its first rewrite moves the body to its own key.
func TestInlineBodyRecordOfEarlierVersion(t *testing.T) {
	var bodies [][]byte
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	q := openQueue(t, "")
	cfg := testConfig()
	cfg.Retry = []time.Duration{time.Hour}
	cfg.KeepLogs = time.Hour
	q.Configure(cfg, newFakeEndpoints())
	msg := newMessage(rc.srv.URL)
	rec := record{ID: msg.ID, SubscriptionUID: msg.SubscriptionUID, ClientID: msg.ClientID, UserID: msg.UserID,
		URL: msg.URL, Body: msg.Body, Created: msg.Created.UnixNano(), Status: StatusPending, NextAttempt: time.Now().UnixNano()}
	err := q.db.Update(func(txn *badger.Txn) error {
		for _, e := range []*badger.Entry{
			badger.NewEntry(recordKey(rec.ID), rec.encode()), // the old layout: body inline, no b/ key
			badger.NewEntry(indexAllKey(rec.Created, rec.ID), nil),
			badger.NewEntry(indexClientKey(rec.ClientID, rec.Created, rec.ID), nil),
			badger.NewEntry(rec.jobKey(), nil),
		} {
			if err := txn.SetEntry(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	q.stats.depth.Add(1)
	q.sched.note(destinationOf(rec.URL), rec.NextAttempt)
	waitFor(t, 5*time.Second, statusIs(t, q, msg.ID, StatusRetrying))
	if b := readEntry(t, q, bodyKey(msg.ID)); !b.found || string(b.value) != string(msg.Body) {
		t.Fatalf("the inline body was not moved to its own key: %+v", b)
	}
	if s, _ := decodeRecord(readEntry(t, q, recordKey(msg.ID)).value); len(s.Body) != 0 {
		t.Error("the rewritten state still carries the body")
	}
	if err := q.Retry(msg.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, statusIs(t, q, msg.ID, StatusDelivered))
	for _, r := range rc.requests() {
		bodies = append(bodies, r.body)
	}
	for i, b := range bodies {
		if string(b) != string(msg.Body) {
			t.Errorf("attempt %d posted %q", i, b)
		}
	}
	if got := logOf(t, q, msg.ID).RequestData; got != string(msg.Body) {
		t.Errorf("request_data = %q", got)
	}
}

// sweepBodies deletes the body of a log that has expired, and only that: not the body of a live log, not one
// younger than sweepMinAge (a batch split over several commits writes bodies before their states), and not
// one whose id does not come from NewMessageID (its age is unknown).
func TestSweepBodies(t *testing.T) {
	rc := newReceiver(t, statuses(200))
	q := openQueue(t, "")
	cfg := testConfig()
	cfg.KeepLogs = time.Second
	q.Configure(cfg, newFakeEndpoints())
	expired := newMessage(rc.srv.URL)
	enqueue(t, q, expired)
	waitFor(t, 5*time.Second, statusIs(t, q, expired.ID, StatusDelivered))
	cfg.Paused = true
	q.Configure(cfg, newFakeEndpoints())
	live := newMessage(rc.srv.URL)
	enqueue(t, q, live)
	young := NewMessageID()
	foreign := "not-a-message-id"
	err := q.db.Update(func(txn *badger.Txn) error {
		for _, id := range []string{young, foreign} {
			if err := txn.Set(bodyKey(id), []byte(`{}`)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Badger's TTL has whole seconds and no clock to move: wait for the delivered log to expire.
	waitFor(t, 5*time.Second, func() bool {
		_, found, err := q.Log(expired.ID)
		return err == nil && !found
	})

	if n, err := q.sweepBodies(time.Now()); err != nil || n != 0 {
		t.Fatalf("sweep now: %d deleted, %v; want none (every orphan is younger than %s)", n, err, sweepMinAge)
	}
	if n, err := q.sweepBodies(time.Now().Add(sweepMinAge + time.Minute)); err != nil || n != 2 {
		t.Fatalf("sweep after %s: %d deleted, %v; want 2 (the expired log's body and the young orphan)", sweepMinAge, n, err)
	}
	for id, want := range map[string]bool{expired.ID: false, young: false, live.ID: true, foreign: true} {
		if got := readEntry(t, q, bodyKey(id)).found; got != want {
			t.Errorf("body of %s there after the sweep: %v, want %v", id, got, want)
		}
	}
	if got := logOf(t, q, live.ID).RequestData; got != string(live.Body) {
		t.Errorf("the live log's request_data = %q", got)
	}
}

func TestMessageIDTime(t *testing.T) {
	before := time.Now().UnixMilli()
	id := NewMessageID()
	after := time.Now().UnixMilli()
	ms, ok := messageIDTime(id)
	if !ok || ms < before || ms > after {
		t.Fatalf("messageIDTime(%s) = %d, %v; want between %d and %d", id, ms, ok, before, after)
	}
	for _, bad := range []string{"", "msg_", "msg_0123456789", "evt_01J0000000000000000000000", "msg_0000000000000000000000000!"} {
		if _, ok := messageIDTime(bad); ok {
			t.Errorf("messageIDTime(%q) accepted", bad)
		}
	}
}

// A state written before IndexExpires was added (record version 1) still decodes, with IndexExpires 0: its index
// keys have no expiry while it is pending, and its final outcome gives them one (finalIndex).
func TestRecordOfVersion1Decodes(t *testing.T) {
	rec := record{ID: "msg_1", SubscriptionUID: "sub", ClientID: "42", UserID: "7", URL: "http://127.0.0.1/", Status: StatusPending,
		Created: 11, Attempts: 2, NextAttempt: 33, Processed: 0, ResponseCode: 500}
	v2 := rec.encode()
	// Version 1 is the same layout without the last varint (IndexExpires 0 encodes as one byte).
	v1 := append([]byte{1}, v2[1:len(v2)-1]...)
	got, err := decodeRecord(v1)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != rec.ID || got.Attempts != 2 || got.NextAttempt != 33 || got.ResponseCode != 500 || got.IndexExpires != 0 {
		t.Errorf("decoded %+v", got)
	}
	rec.IndexExpires = 1796000000
	if got, err := decodeRecord(rec.encode()); err != nil || got.IndexExpires != rec.IndexExpires {
		t.Errorf("version 2 round trip: %+v, %v", got, err)
	}
	if finalIndex(&got, 100, time.Hour) != true || got.IndexExpires != 100 {
		t.Errorf("a version 1 record's final outcome must write its index keys with the state's expiry")
	}
}
