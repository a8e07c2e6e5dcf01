// Package proxy holds the HTTP and JSON-RPC mechanics of sidehook: reading and restoring the request
// body, finding and parsing the calls it carries, pairing them with the response, answering some of
// them locally, holding the response until events are stored, redacting and building webhook bodies.
// It imports nothing from Caddy so it can be tested and fuzzed on its own.
package proxy

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// initialBodyCap is the first capacity of a pooled buffer: most JSON-RPC calls are small, and the
// pool keeps whatever a buffer grew to, so large bodies only pay for growth once per buffer.
const initialBodyCap = 4 << 10

// maxPooledCap keeps one huge request from pinning its buffer in the pool for ever.
const maxPooledCap = 1 << 20

// Body is a request body read into a pooled buffer. The request's Body reads from the same bytes.
//
// The buffer goes back to the pool only when both the handler has released it and every reader handed
// to the next handler has been closed: an http.Transport may go on reading and closing a request body in
// its own goroutine after RoundTrip returned (net/http documents this), so a buffer recycled when the
// handler returns could send one request's bytes, or none, in another request's place. A reader nobody
// closes keeps its buffer out of the pool; the garbage collector takes it instead.
type Body struct {
	Bytes []byte

	pooled bool         // false for a Body not from the pool: Release is then a no-op
	refs   atomic.Int32 // the handler's Release plus one per reader not yet closed
	replay replayReader
	// getBody is bound once per pooled Body so that setting r.GetBody costs no allocation per request.
	getBody func() (io.ReadCloser, error)
}

// bodyPool is the one pool shared by every ReadBody call. It holds no state of its own beyond
// reusable buffers, which is why it may be package level.
var bodyPool = sync.Pool{New: newPooledBody}

func newPooledBody() any {
	b := &Body{Bytes: make([]byte, 0, initialBodyCap)}
	b.pooled = true
	b.getBody = b.newReader
	return b
}

// errBodyReleased answers a GetBody that comes after the body was given back: it cannot be replayed.
var errBodyReleased = errors.New("proxy: request body already released")

// newReader serves http.Request.GetBody: a fresh reader over the same bytes for every retry.
func (b *Body) newReader() (io.ReadCloser, error) {
	for {
		n := b.refs.Load()
		if n <= 0 {
			return nil, errBodyReleased
		}
		if b.refs.CompareAndSwap(n, n+1) {
			return &replayReader{data: b.Bytes, owner: b}, nil
		}
	}
}

// Release gives the handler's hold on the buffer back; Bytes must not be used afterwards. The buffer
// returns to the pool once the readers of the request body are closed too.
func (b *Body) Release() {
	if b == nil || !b.pooled {
		return
	}
	b.unref()
}

func (b *Body) unref() {
	if b.refs.Add(-1) != 0 {
		return
	}
	if cap(b.Bytes) > maxPooledCap {
		b.Bytes = make([]byte, 0, initialBodyCap)
	}
	b.Bytes = b.Bytes[:0]
	b.replay = replayReader{}
	bodyPool.Put(b)
}

// ReadBody reads r.Body for inspection and puts it back so the next handler sees identical bytes.
//   - r.ContentLength > max: returns (nil, false) without reading anything.
//   - reads up to max+1 bytes; if the body is longer than max, r.Body is replaced by a reader that
//     yields the bytes already read followed by the rest of the original body (Close closes the
//     original), and returns (nil, false).
//   - a read error: r.Body is replaced the same way (the bytes read, then the same error), returns
//     (nil, false).
//   - otherwise r.Body reads the same bytes, r.ContentLength = len, r.GetBody is set; returns
//     (body, true). A request without a body yields an empty Body and is left as it was.
func ReadBody(r *http.Request, max int64) (*Body, bool) {
	if max < 0 || r.ContentLength > max {
		return nil, false
	}
	b := bodyPool.Get().(*Body)
	b.refs.Store(1) // the caller's Release
	if r.Body == nil || r.Body == http.NoBody {
		return b, true
	}
	data, err := readAtMost(r.Body, b.Bytes[:0], max+1)
	if err != nil || int64(len(data)) > max {
		// The buffer now belongs to the prefix reader: it is not returned to the pool.
		r.Body = &prefixReader{prefix: data, rest: r.Body, err: err}
		b.Bytes = make([]byte, 0, initialBodyCap)
		b.Release()
		return nil, false
	}
	b.Bytes = data
	b.refs.Add(1) // the replay reader's Close
	b.replay = replayReader{data: data, orig: r.Body, owner: b}
	r.Body = &b.replay
	r.ContentLength = int64(len(data))
	r.GetBody = b.getBody
	return b, true
}

// readAtMost appends from rd to buf until EOF, an error, or limit bytes. It reads into the buffer's
// spare capacity directly (no io.LimitedReader, no bytes.Buffer) to stay allocation free once the
// pooled buffer is big enough. EOF is not an error.
func readAtMost(rd io.Reader, buf []byte, limit int64) ([]byte, error) {
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := buf[len(buf):cap(buf)]
		if left := limit - int64(len(buf)); int64(len(room)) > left {
			room = room[:left]
		}
		n, err := rd.Read(room)
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// replayReader gives the next handler the bytes that were read for inspection. Close closes the
// original body so its connection bookkeeping is unchanged, and lets go of the pooled buffer.
type replayReader struct {
	data   []byte
	off    int
	orig   io.ReadCloser
	owner  *Body
	closed bool
}

func (r *replayReader) Read(p []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	n := copy(p, r.data[r.off:])
	r.off += n
	return n, nil
}

func (r *replayReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	orig, owner := r.orig, r.owner
	var err error
	if orig != nil {
		err = orig.Close()
	}
	if owner != nil && owner.pooled {
		owner.unref() // last: the buffer, this reader included, may be reused from here on
	}
	return err
}

// prefixReader restores a body that was only partly inspected: the bytes already consumed, then the
// rest of the original stream (or the error that stopped the inspection), so the stream the next
// handler reads is exactly the one the client sent.
type prefixReader struct {
	prefix []byte
	rest   io.ReadCloser
	err    error
}

func (r *prefixReader) Read(p []byte) (int, error) {
	if len(r.prefix) > 0 {
		n := copy(p, r.prefix)
		r.prefix = r.prefix[n:]
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	return r.rest.Read(p)
}

func (r *prefixReader) Close() error { return r.rest.Close() }

var (
	_ io.ReadCloser = (*replayReader)(nil)
	_ io.ReadCloser = (*prefixReader)(nil)
)
