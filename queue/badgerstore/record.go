package badgerstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/sidehook/sidehook/queue/store"
)

// record is one event with its delivery state and its log. It is stored as two entries
// (entries.go): the body under b/<id>, written once at Enqueue, and everything else under r/<id>,
// the small state each attempt rewrites. Body is set only on a record read with its body (Log,
// Logs, Claim); encode never writes it.
type record struct {
	ID              string
	SubscriptionUID string
	ClientID        string
	UserID          string
	URL             string
	Body            []byte // not part of the state: b/<id>
	Created         int64  // unix nanoseconds
	Status          string
	Attempts        int
	NextAttempt     int64 // unix nanoseconds of the job key's due time; 0 when no job exists
	Processed       int64 // unix nanoseconds of the final outcome; 0 before
	ResponseCode    int
	ResponseData    []byte
	Error           string
	// IndexExpires is the Badger expiry (unix seconds) the two log index keys were written with
	// (indexexpiry.go).
	IndexExpires int64
}

// recordVersion is the first byte of every stored state. There is one encoding: a state of
// another version is corrupt.
const recordVersion = 1

var errCorruptRecord = errors.New("corrupt record")

// encode is the state entry's value: a small length-prefixed binary layout rather than JSON, as
// receivers' answers are often JSON themselves and would be escaped (and grow) inside a JSON
// string, and this runs once per enqueue and per attempt. The body is left out (see record).
func (r *record) encode() []byte {
	size := 1 + 10*14 + len(r.ID) + len(r.SubscriptionUID) + len(r.ClientID) + len(r.UserID) +
		len(r.URL) + len(r.Status) + len(r.ResponseData) + len(r.Error)
	b := make([]byte, 0, size)
	b = append(b, recordVersion)
	for _, s := range []string{r.ID, r.SubscriptionUID, r.ClientID, r.UserID, r.URL, r.Status, r.Error} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(r.ResponseData)))
	b = append(b, r.ResponseData...)
	for _, n := range []int64{r.Created, int64(r.Attempts), r.NextAttempt, r.Processed, int64(r.ResponseCode), r.IndexExpires} {
		b = binary.AppendVarint(b, n)
	}
	return b
}

// decodeRecord parses what encode wrote. b may be Badger-owned memory: every field is copied.
func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) == 0 || b[0] != recordVersion {
		return r, fmt.Errorf("%w: unknown version", errCorruptRecord)
	}
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
	// The seven strings are cut from one copy of their bytes: one allocation instead of seven, on
	// every claim's read of a state.
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
	data, err := next()
	if err != nil {
		return r, err
	}
	if len(data) > 0 {
		r.ResponseData = append([]byte(nil), data...)
	}
	var ints [6]int64
	for i := range ints {
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

// dest is the destination the record's jobs are grouped under.
func (r *record) dest() string { return store.Destination(r.URL) }

// jobKey is the key of the record's pending job (valid when NextAttempt != 0).
func (r *record) jobKey() []byte {
	return jobKey(r.dest(), r.NextAttempt, r.ID)
}

// event is the record's event, as Enqueue was given it.
func (r *record) event() store.Event {
	return store.Event{
		ID:              r.ID,
		SubscriptionUID: r.SubscriptionUID,
		ClientID:        r.ClientID,
		UserID:          r.UserID,
		URL:             r.URL,
		Body:            r.Body,
		Created:         r.Created,
	}
}

// logItem renders the record the way the management and admin APIs show it.
func (r *record) logItem() store.LogItem {
	return store.NewLogItem(r.event(), store.Delivery{
		Status:       r.Status,
		Attempts:     r.Attempts,
		ResponseCode: r.ResponseCode,
		ResponseData: r.ResponseData,
		Error:        r.Error,
		NextAttempt:  r.NextAttempt,
		Processed:    r.Processed,
	})
}
