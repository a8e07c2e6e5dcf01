package queue

import (
	"regexp"
	"testing"
	"time"
)

func TestNewMessageID(t *testing.T) {
	shape := regexp.MustCompile(`^msg_[0-9A-HJKMNP-TV-Z]{26}$`)
	seen := map[string]bool{}
	prev := ""
	for i := range 1000 {
		id := NewMessageID()
		if !shape.MatchString(id) {
			t.Fatalf("id %q has the wrong shape", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		if i == 999 {
			prev = id
		}
	}
	later := time.Now().Add(2 * time.Millisecond)
	for time.Now().Before(later) {
		// busy-wait two milliseconds so the time prefix moves on
	}
	if next := NewMessageID(); next[:14] <= prev[:14] {
		t.Errorf("ids are not time-sortable: %s then %s", prev, next)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	tests := []record{
		{},
		{ID: "msg_1", SubscriptionUID: "sub", ClientID: "42", UserID: "7", URL: "https://x/y",
			Body: []byte(`{"a":"\u00e9"}`), Created: time.Now().UnixNano(), Status: StatusRetrying, Attempts: 3,
			NextAttempt: 1 << 60, Processed: -1, ResponseCode: 503, ResponseData: []byte("busy"), Error: "receiver answered 503"},
	}
	for _, want := range tests {
		got, err := decodeRecord(want.encode())
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if got.ID != want.ID || string(got.Body) != string(want.Body) || got.Created != want.Created ||
			got.Status != want.Status || got.Attempts != want.Attempts || got.NextAttempt != want.NextAttempt ||
			got.Processed != want.Processed || got.ResponseCode != want.ResponseCode ||
			string(got.ResponseData) != string(want.ResponseData) || got.Error != want.Error ||
			got.URL != want.URL || got.ClientID != want.ClientID || got.UserID != want.UserID ||
			got.SubscriptionUID != want.SubscriptionUID {
			t.Errorf("round trip: got %+v, want %+v", got, want)
		}
	}
	for _, bad := range [][]byte{nil, {9}, {recordVersion, 200}} {
		if _, err := decodeRecord(bad); err == nil {
			t.Errorf("decodeRecord(%v) accepted garbage", bad)
		}
	}
}
