package queue

import (
	"crypto/rand"
	"time"
)

// Message is one event to deliver to one subscription. It is immutable once
// enqueued: every attempt posts the same Body under the same ID.
type Message struct {
	ID              string // from NewMessageID(): "msg_" + 26 time-sortable base32 characters
	SubscriptionUID string
	ClientID        string
	UserID          string
	URL             string // final URL (merge fields already replaced)
	Body            []byte // final JSON body (already redacted)
	Created         time.Time
}

// crockford is the ULID alphabet: no I, L, O, U, so ids survive being read aloud
// and sort lexically in the same order as their timestamps.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewMessageID returns "msg_" followed by a ULID-like id: 48 bits of unix
// milliseconds and 80 random bits in 26 Crockford base32 characters. The time
// prefix makes ids sortable by creation, which operators find handy when
// reading logs; the random part makes collisions between instances negligible.
func NewMessageID() string {
	var raw [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		raw[i] = byte(ms)
		ms >>= 8
	}
	// crypto/rand.Read never returns an error since Go 1.24.
	_, _ = rand.Read(raw[6:])

	// 128 bits -> 26 characters of 5 bits (the first carries only 3 bits).
	var out [4 + 26]byte
	copy(out[:], "msg_")
	hi := uint64(raw[0])<<56 | uint64(raw[1])<<48 | uint64(raw[2])<<40 | uint64(raw[3])<<32 |
		uint64(raw[4])<<24 | uint64(raw[5])<<16 | uint64(raw[6])<<8 | uint64(raw[7])
	lo := uint64(raw[8])<<56 | uint64(raw[9])<<48 | uint64(raw[10])<<40 | uint64(raw[11])<<32 |
		uint64(raw[12])<<24 | uint64(raw[13])<<16 | uint64(raw[14])<<8 | uint64(raw[15])
	for i := 25; i >= 0; i-- {
		out[4+i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
