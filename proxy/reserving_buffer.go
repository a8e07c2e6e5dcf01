package proxy

import (
	"encoding/binary"
	"fmt"
)

// reservingBuffer collects bytes up to limit, asking reserve for every byte of capacity it allocates, so
// that a copy sidehook makes of a response is counted in the memory budget before it exists.
type reservingBuffer struct {
	buf     []byte
	reserve func(n int64) bool // nil: no accounting
	limit   int64
}

// sizeHint allocates n bytes up front (a gzip trailer's size): one allocation instead of doublings.
func (b *reservingBuffer) sizeHint(n int64) {
	if n > 0 && n <= b.limit && cap(b.buf) == 0 && b.take(n) {
		b.buf = make([]byte, 0, n)
	}
}

func (b *reservingBuffer) take(n int64) bool { return b.reserve == nil || b.reserve(n) }

// Write appends p; past limit it fails, and when the budget has no room for more capacity it fails with
// ErrNoMemory.
func (b *reservingBuffer) Write(p []byte) (int, error) {
	need := int64(len(b.buf)) + int64(len(p))
	if need > b.limit {
		return 0, fmt.Errorf("larger than %d bytes", b.limit)
	}
	if have := int64(cap(b.buf)); need > have {
		newCap := min(max(2*have, need), b.limit)
		if !b.take(newCap - have) {
			return 0, ErrNoMemory
		}
		grown := make([]byte, len(b.buf), newCap)
		copy(grown, b.buf)
		b.buf = grown
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// gzipSizeHint reads the decoded size a gzip stream declares in its last four bytes (ISIZE, modulo 2^32;
// of the last member only when there are several). It is a hint: the decoder checks nothing against it.
func gzipSizeHint(gz []byte) int64 {
	if len(gz) < 18 { // the smallest gzip stream: 10 bytes of header, 8 of trailer
		return 0
	}
	return int64(binary.LittleEndian.Uint32(gz[len(gz)-4:]))
}
