package badgerstore

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// Key prefixes: the layout and why it is so are in the package doc (doc.go).
var (
	prefixRecord      = []byte("r/")
	prefixBody        = []byte("b/")
	prefixJob         = []byte("j/")
	prefixIndexAll    = []byte("a/")
	prefixIndexClient = []byte("c/")
	prefixDaily       = []byte("d/")
)

func recordKey(id string) []byte {
	return append(append(make([]byte, 0, len(prefixRecord)+len(id)), prefixRecord...), id...)
}

func bodyKey(id string) []byte {
	return append(append(make([]byte, 0, len(prefixBody)+len(id)), prefixBody...), id...)
}

// jobDestPrefix is the range of one destination's jobs. Destinations
// (URL host[:port]) never contain a NUL byte: url.Parse rejects control
// characters.
func jobDestPrefix(dest string) []byte {
	k := make([]byte, 0, len(prefixJob)+len(dest)+1+8+32)
	k = append(k, prefixJob...)
	k = append(k, dest...)
	return append(k, 0)
}

// jobDestEnd is the first key after every job of dest, for skipping to the
// next destination in a scan.
func jobDestEnd(dest string) []byte {
	k := jobDestPrefix(dest)
	k[len(k)-1] = 1
	return k
}

func jobKey(dest string, due int64, id string) []byte {
	k := jobDestPrefix(dest)
	k = binary.BigEndian.AppendUint64(k, uint64(due))
	return append(k, id...)
}

var errBadJobKey = errors.New("malformed job key")

func parseJobKey(k []byte) (dest string, due int64, id string, err error) {
	if !bytes.HasPrefix(k, prefixJob) {
		return "", 0, "", errBadJobKey
	}
	rest := k[len(prefixJob):]
	end := bytes.IndexByte(rest, 0)
	if end < 0 || len(rest) < end+1+8 {
		return "", 0, "", errBadJobKey
	}
	dest = string(rest[:end])
	rest = rest[end+1:]
	return dest, int64(binary.BigEndian.Uint64(rest[:8])), string(rest[8:]), nil
}

// invertedTime makes newer entries sort first in an ascending scan.
func invertedTime(created int64) uint64 { return ^uint64(created) }

func indexAllKey(created int64, id string) []byte {
	k := make([]byte, 0, len(prefixIndexAll)+8+len(id))
	k = append(k, prefixIndexAll...)
	k = binary.BigEndian.AppendUint64(k, invertedTime(created))
	return append(k, id...)
}

func indexClientPrefix(client string) []byte {
	k := make([]byte, 0, len(prefixIndexClient)+len(client)+1+8+32)
	k = append(k, prefixIndexClient...)
	k = append(k, client...)
	return append(k, 0)
}

func indexClientKey(client string, created int64, id string) []byte {
	k := indexClientPrefix(client)
	k = binary.BigEndian.AppendUint64(k, invertedTime(created))
	return append(k, id...)
}

// indexID extracts the message id from an index key given its prefix length.
func indexID(k []byte, prefixLen int) string {
	if len(k) < prefixLen+8 {
		return ""
	}
	return string(k[prefixLen+8:])
}

func dailyKey(day, client, user string) []byte {
	k := make([]byte, 0, len(prefixDaily)+len(day)+len(client)+len(user)+2)
	k = append(k, prefixDaily...)
	k = append(k, day...)
	k = append(k, 0)
	k = append(k, client...)
	k = append(k, 0)
	return append(k, user...)
}

// seekKey is the first possible key of dest's jobs due at due.
func seekKey(dest string, due int64) []byte {
	return binary.BigEndian.AppendUint64(jobDestPrefix(dest), uint64(due))
}

// lowerKey returns the lower of two seek positions, nil being the lowest.
func lowerKey(a, b []byte) []byte {
	if a == nil || b == nil {
		return nil
	}
	if bytes.Compare(a, b) <= 0 {
		return a
	}
	return b
}
