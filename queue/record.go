package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Statuses of a log item.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusRetrying  = "retrying"
	StatusDead      = "dead"
	StatusGone      = "gone"
	StatusLimited   = "limited"
)

// isFinal reports whether no further attempt is scheduled for status.
func isFinal(status string) bool {
	switch status {
	case StatusDelivered, StatusDead, StatusGone, StatusLimited:
		return true
	}
	return false
}

// record is one message with its delivery state and its log. It is stored
// as two entries (store.go): the body under b/<id>, written once at Enqueue
// (into Badger's value log, and deleted by sweepBodies when the log has
// expired), and everything else under r/<id>, a small entry that each
// attempt rewrites. Storing the body once keeps the disk cost per queued
// event close to the body size, and keeping it out of the per-attempt write
// keeps a failing backlog from churning its bodies through Badger's
// memtables and compactions. encode writes Body when it is set: the stored state leaves it
// empty, and records written by earlier versions carry it inline.
type record struct {
	ID              string
	SubscriptionUID string
	ClientID        string
	UserID          string
	URL             string
	Body            []byte
	Created         int64 // unix nanoseconds
	Status          string
	Attempts        int
	NextAttempt     int64 // unix nanoseconds of the job key's due time; 0 when no job exists
	Processed       int64 // unix nanoseconds of the final outcome; 0 before
	ResponseCode    int
	ResponseData    []byte
	Error           string
	// IndexExpires is the Badger expiry (unix seconds) the two log index
	// keys were written with; 0: none (a pending record of an earlier
	// version). See finalIndex and extendPendingIndex (store.go).
	IndexExpires int64

	// bodyInState: Body came from the state entry (a record of an earlier
	// version, which stored it inline), not from b/<id>. The next write of
	// the state moves it to its own key (moveInlineBodyIn). Not stored.
	bodyInState bool
}

// recordVersion 2 added IndexExpires; version 1 records decode with it 0.
const recordVersion = 2

var errCorruptRecord = errors.New("corrupt record")

// encode uses a small length-prefixed binary layout rather than JSON: bodies
// are JSON themselves and would be escaped (and grow) inside a JSON string,
// and this runs once per enqueue and per attempt.
func (r *record) encode() []byte {
	size := 1 + 10*15 + len(r.ID) + len(r.SubscriptionUID) + len(r.ClientID) + len(r.UserID) +
		len(r.URL) + len(r.Body) + len(r.Status) + len(r.ResponseData) + len(r.Error)
	b := make([]byte, 0, size)
	b = append(b, recordVersion)
	for _, s := range []string{r.ID, r.SubscriptionUID, r.ClientID, r.UserID, r.URL, r.Status, r.Error} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, p := range [][]byte{r.Body, r.ResponseData} {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	for _, n := range []int64{r.Created, int64(r.Attempts), r.NextAttempt, r.Processed, int64(r.ResponseCode), r.IndexExpires} {
		b = binary.AppendVarint(b, n)
	}
	return b
}

// decodeRecord parses what encode wrote. b may be Badger-owned memory: every
// field is copied.
func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) == 0 || b[0] < 1 || b[0] > recordVersion {
		return r, fmt.Errorf("%w: unknown version", errCorruptRecord)
	}
	version := b[0]
	b = b[1:]
	next := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, errCorruptRecord
		}
		field := b[k : k+int(n)]
		b = b[k+int(n):]
		return field, nil
	}
	// The seven strings are cut from one copy of their bytes: one allocation
	// instead of seven, on every attempt's read of a state.
	var fields [7][]byte
	size := 0
	for i := range fields {
		f, err := next()
		if err != nil {
			return r, err
		}
		fields[i] = f
		size += len(f)
	}
	var all strings.Builder
	all.Grow(size)
	for _, f := range fields {
		all.Write(f)
	}
	text := all.String()
	for i, s := range []*string{&r.ID, &r.SubscriptionUID, &r.ClientID, &r.UserID, &r.URL, &r.Status, &r.Error} {
		*s, text = text[:len(fields[i])], text[len(fields[i]):]
	}
	for _, p := range []*[]byte{&r.Body, &r.ResponseData} {
		f, err := next()
		if err != nil {
			return r, err
		}
		*p = append([]byte(nil), f...)
	}
	var ints [6]int64
	count := len(ints)
	if version == 1 {
		count = 5 // no IndexExpires
	}
	for i := range ints[:count] {
		n, k := binary.Varint(b)
		if k <= 0 {
			return r, errCorruptRecord
		}
		ints[i] = n
		b = b[k:]
	}
	r.Created, r.Attempts, r.NextAttempt, r.Processed, r.ResponseCode, r.IndexExpires =
		ints[0], int(ints[1]), ints[2], ints[3], int(ints[4]), ints[5]
	return r, nil
}

// jobKey is the key of the record's pending job (valid when NextAttempt != 0).
func (r *record) jobKey() []byte {
	return jobKey(destinationOf(r.URL), r.NextAttempt, r.ID)
}

// logTimeLayout is the OTYS log time format, always UTC.
const logTimeLayout = "2006-01-02 15:04:05"

func formatNanos(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(logTimeLayout)
}

// logItem renders the record the way the management and admin APIs show it.
func (r *record) logItem() LogItem {
	processed := "0"
	if isFinal(r.Status) {
		processed = "1"
	}
	return LogItem{
		ID:              r.ID,
		ClientID:        r.ClientID,
		UserID:          r.UserID,
		WebhookURL:      r.URL,
		RequestData:     string(r.Body),
		ResponseData:    string(r.ResponseData),
		ResponseCode:    r.ResponseCode,
		Added:           formatNanos(r.Created),
		IsProcessed:     processed,
		Processed:       formatNanos(r.Processed),
		Status:          r.Status,
		Attempts:        r.Attempts,
		NextAttempt:     formatNanos(r.NextAttempt),
		SubscriptionUID: r.SubscriptionUID,
		Error:           r.Error,
	}
}
