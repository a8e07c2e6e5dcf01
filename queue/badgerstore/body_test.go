package badgerstore

import (
	"errors"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/sidehook/sidehook/queue/store"
)

// entryInfo is the version and expiry of one key, or found=false.
type entryInfo struct {
	found     bool
	version   uint64
	expiresAt uint64
	value     []byte
}

func readEntry(t *testing.T, s *Store, key []byte) entryInfo {
	t.Helper()
	var info entryInfo
	err := s.db.View(func(txn *badger.Txn) error {
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

// claimOne claims the single due job of testURL.
func claimOne(t *testing.T, s *Store, id string) store.Job {
	t.Helper()
	return claimOneOf(t, s, testURL, id)
}

// claimOneOf claims the single due job of url.
func claimOneOf(t *testing.T, s *Store, url, id string) store.Job {
	t.Helper()
	jobs, _, err := s.Claim(store.Destination(url), time.Now().UnixNano(), 10)
	if err != nil || len(jobs) != 1 || jobs[0].ID != id {
		t.Fatalf("Claim: %d jobs, %v; want just %s", len(jobs), err, id)
	}
	return jobs[0]
}

// The body is stored once, at Enqueue, under its own key and without a TTL: a failed attempt
// rewrites only the small state entry, and the final outcome gives the state and index keys the
// log's TTL but leaves the body alone (sweepBodies deletes it once the state has expired).
func TestBodyIsWrittenOnce(t *testing.T) {
	s := openStore(t, "")
	ev := newEvent(testURL)
	enqueue(t, s, ev)
	body := readEntry(t, s, bodyKey(ev.ID))
	if !body.found || string(body.value) != string(ev.Body) || body.expiresAt != 0 {
		t.Fatalf("body entry after Enqueue: %+v", body)
	}
	state := readEntry(t, s, recordKey(ev.ID))
	if _, err := decodeRecord(state.value); err != nil {
		t.Fatalf("stored state does not decode: %v", err)
	}

	j := claimOne(t, s, ev.ID)
	o := deliveredNow(j)
	o.Status, o.NextDue, o.ResponseCode = store.StatusRetrying, time.Now().UnixNano(), 500
	if err := s.Record([]store.Outcome{o}, testPolicy); err != nil {
		t.Fatal(err)
	}
	if after := readEntry(t, s, bodyKey(ev.ID)); after.version != body.version {
		t.Errorf("a failed attempt rewrote the body (version %d, then %d)", body.version, after.version)
	}
	if st := readEntry(t, s, recordKey(ev.ID)); st.version == state.version {
		t.Error("the failed attempt did not update the state")
	}
	if item := logOf(t, s, ev.ID); item.RequestData != string(ev.Body) || item.Attempts != 1 || item.ResponseCode != 500 {
		t.Errorf("log after a failed attempt: %+v", item)
	}

	// Retry of a pending item: only the state again.
	if _, err := s.Retry(ev.ID, time.Now(), testPolicy); err != nil {
		t.Fatal(err)
	}
	if v := readEntry(t, s, bodyKey(ev.ID)).version; v != body.version {
		t.Errorf("Retry of a pending item rewrote the body")
	}

	// Final: the state and index keys get the log's TTL; the body is not written again.
	j = claimOne(t, s, ev.ID)
	if string(j.Body) != string(ev.Body) {
		t.Errorf("claimed body %q", j.Body)
	}
	if err := s.Record([]store.Outcome{deliveredNow(j)}, testPolicy); err != nil {
		t.Fatal(err)
	}
	want := uint64(time.Now().Add(testPolicy.KeepLogs).Unix())
	if final := readEntry(t, s, bodyKey(ev.ID)); final.version != body.version || final.expiresAt != 0 {
		t.Errorf("final body entry %+v: the final outcome rewrote the body", final)
	}
	if st := readEntry(t, s, recordKey(ev.ID)); st.expiresAt < want-60 || st.expiresAt > want+60 {
		t.Errorf("state expires at %d, want about %d", st.expiresAt, want)
	}
	if i := readEntry(t, s, indexAllKey(ev.Created, ev.ID)); i.expiresAt < want-60 || i.expiresAt > want+60 {
		t.Errorf("index key expires at %d, want about %d", i.expiresAt, want)
	}
	// Reopening takes the TTL off the state again, and leaves the body alone.
	if reopened, err := s.Retry(ev.ID, time.Now(), testPolicy); err != nil || !reopened {
		t.Fatalf("Retry of a delivered item: %v, %v", reopened, err)
	}
	if st := readEntry(t, s, recordKey(ev.ID)); st.expiresAt != 0 {
		t.Errorf("the state of a reopened item expires at %d", st.expiresAt)
	}
	if b := readEntry(t, s, bodyKey(ev.ID)); b.version != body.version {
		t.Error("Retry of a delivered item rewrote the body")
	}
}

// An empty body is a body: its record is claimed and logged like any other.
func TestEmptyBodyIsStored(t *testing.T) {
	s := openStore(t, "")
	ev := newEvent(testURL)
	ev.Body = nil
	enqueue(t, s, ev)
	if j := claimOne(t, s, ev.ID); len(j.Body) != 0 {
		t.Errorf("claimed body %q, want empty", j.Body)
	}
}

// sweepBodies deletes the body of a log that has expired, and only that: not the body of a live
// log, not one younger than sweepMinAge (a batch split over several commits writes bodies before
// their states), and not one whose id is not of the engine's form (its age is unknown).
func TestSweepBodies(t *testing.T) {
	s := openStore(t, "")
	p := testPolicy
	p.KeepLogs = time.Second
	expired, live := newEvent(testURL), newEvent(testURL)
	if _, err := s.Enqueue(t.Context(), []store.Event{expired}, time.Now(), p); err != nil {
		t.Fatal(err)
	}
	if err := s.Record([]store.Outcome{deliveredNow(claimOne(t, s, expired.ID))}, p); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, live)
	young := newID()
	foreign := "not-a-message-id"
	err := s.db.Update(func(txn *badger.Txn) error {
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
		_, found, err := s.Log(expired.ID)
		return err == nil && !found
	})
	if n, err := s.sweepBodies(time.Now()); err != nil || n != 0 {
		t.Fatalf("sweep now: %d deleted, %v; want none (every orphan is younger than %s)", n, err, sweepMinAge)
	}
	if n, err := s.sweepBodies(time.Now().Add(sweepMinAge + time.Minute)); err != nil || n != 2 {
		t.Fatalf("sweep after %s: %d deleted, %v; want 2 (the expired log's body and the young orphan)", sweepMinAge, n, err)
	}
	for id, want := range map[string]bool{expired.ID: false, young: false, live.ID: true, foreign: true} {
		if got := readEntry(t, s, bodyKey(id)).found; got != want {
			t.Errorf("body of %s there after the sweep: %v, want %v", id, got, want)
		}
	}
	if got := logOf(t, s, live.ID).RequestData; got != string(live.Body) {
		t.Errorf("the live log's request_data = %q", got)
	}
}

func TestMessageIDTime(t *testing.T) {
	before := time.Now().UnixMilli()
	id := newID()
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

// A state decodes to what was encoded; a state of another version is corrupt, not guessed at.
func TestRecordRoundTrip(t *testing.T) {
	rec := record{ID: "msg_1", SubscriptionUID: "sub", ClientID: "42", UserID: "7", URL: testURL, Status: store.StatusRetrying,
		Created: 11, Attempts: 2, NextAttempt: 33, Processed: 44, ResponseCode: 500, ResponseData: []byte("no"), Error: "e",
		IndexExpires: 1796000000}
	got, err := decodeRecord(rec.encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != rec.ID || got.SubscriptionUID != rec.SubscriptionUID || got.ClientID != rec.ClientID || got.UserID != rec.UserID ||
		got.URL != rec.URL || got.Status != rec.Status || got.Created != 11 || got.Attempts != 2 || got.NextAttempt != 33 ||
		got.Processed != 44 || got.ResponseCode != 500 || string(got.ResponseData) != "no" || got.Error != "e" || got.IndexExpires != rec.IndexExpires {
		t.Errorf("decoded %+v, encoded %+v", got, rec)
	}
	other := rec.encode()
	other[0] = recordVersion + 1
	if _, err := decodeRecord(other); !errors.Is(err, errCorruptRecord) {
		t.Errorf("a state of another version decoded: %v", err)
	}
	if _, err := decodeRecord(rec.encode()[:10]); err == nil {
		t.Error("a truncated state decoded")
	}
}
