package jsstore

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

// jobEntry is the value of a job's key: when it is due, and the claim on it, if any. A claim is an owner
// and a lease deadline in wall-clock time; a lease that has run out is no claim at all, whoever holds it.
type jobEntry struct {
	Dest       string `json:"dest"`
	Due        int64  `json:"due"`
	Attempts   int    `json:"attempts"`
	Owner      string `json:"owner,omitempty"`       // the claiming store's id, "" when unclaimed
	LeaseUntil int64  `json:"lease_until,omitempty"` // unix ns (wall clock) the claim ends by itself
}

// claimedAt reports whether the job is under a live claim at wall (unix ns, the real clock).
func (j jobEntry) claimedAt(wall int64) bool { return j.Owner != "" && j.LeaseUntil > wall }

// unclaimed is the job with its claim ended.
func (j jobEntry) unclaimed() jobEntry {
	j.Owner, j.LeaseUntil = "", 0
	return j
}

// logState is the value of a log key: an event's delivery state with what its log item shows of the event
// (everything but the body, which stays in the events bucket and is read only for the items returned).
type logState struct {
	ClientID        string `json:"client"`
	UserID          string `json:"user"`
	SubscriptionUID string `json:"sub"`
	URL             string `json:"url"`
	Created         int64  `json:"created"`
	Status          string `json:"status"`
	Attempts        int    `json:"attempts"`
	ResponseCode    int    `json:"code,omitempty"`
	ResponseData    []byte `json:"response,omitempty"`
	Error           string `json:"error,omitempty"`
	NextAttempt     int64  `json:"next,omitempty"`      // unix ns; 0 when none
	Processed       int64  `json:"processed,omitempty"` // unix ns of the final outcome; 0 before
	Expires         int64  `json:"expires,omitempty"`   // unix ns (wall clock) a final item's log stops being readable
}

// newLogState is the state of ev before any attempt.
func newLogState(ev store.Event) logState {
	return logState{ClientID: ev.ClientID, UserID: ev.UserID, SubscriptionUID: ev.SubscriptionUID, URL: ev.URL,
		Created: ev.Created}
}

// expired reports whether a final item's log has outlived its KeepLogs.
func (l logState) expired() bool {
	return store.IsFinal(l.Status) && l.Expires != 0 && time.Now().UnixNano() > l.Expires
}

// event is l's event with body.
func (l logState) event(id string, body []byte) store.Event {
	return store.Event{ID: id, SubscriptionUID: l.SubscriptionUID, ClientID: l.ClientID, UserID: l.UserID,
		URL: l.URL, Body: body, Created: l.Created}
}

// logItem renders l the way the APIs show a log.
func (l logState) logItem(id string, body []byte) store.LogItem {
	return store.NewLogItem(l.event(id, body), store.Delivery{Status: l.Status, Attempts: l.Attempts,
		ResponseCode: l.ResponseCode, ResponseData: l.ResponseData, Error: l.Error, NextAttempt: l.NextAttempt,
		Processed: l.Processed})
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("jsstore: encoding a record of plain fields failed: " + err.Error()) // cannot happen
	}
	return b
}

// plainToken is what a key token may hold as it is: KV keys are NATS subjects, so no '.', no spaces, no
// wildcards; and no '=', which marks an encoded token.
var plainToken = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// token makes s one token of a key: as it is when it is plain (ids, most client ids, to keep keys readable
// for operators), else "=" and its unpadded base64url (destinations, "host:port", have a '.' or ':').
func token(s string) string {
	if plainToken.MatchString(s) {
		return s
	}
	return "=" + base64.RawURLEncoding.EncodeToString([]byte(s))
}

// jobKey is the key of a job in the jobs bucket: one destination's jobs share a first token, so Claim reads
// them with one filter.
func jobKey(dest, id string) string { return token(dest) + "." + token(id) }

// logKey is the key of a log in the logs bucket: one client's logs share a first token, so Logs of a client
// reads only them.
func logKey(client, id string) string { return token(client) + "." + token(id) }

// limitKey is the key of a daily counter in the limits bucket.
func limitKey(day, client, user string) string { return day + "." + token(client) + "." + token(user) }
