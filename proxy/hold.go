package proxy

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// Budget is a global cap on the bytes held by all Holders at once, so many slow clients with large
// responses cannot make sidehook hold unbounded memory. Lock free: one atomic counter.
type Budget struct {
	max  int64
	used atomic.Int64
}

// NewBudget returns a Budget of max bytes; max <= 0 means no cap.
func NewBudget(max int64) *Budget {
	return &Budget{max: max}
}

// takeAttempts bounds the compare-and-swap loop in take: under extreme contention a reservation is
// refused rather than spun on, and a refused Holder simply streams.
const takeAttempts = 64

// take reserves n bytes and reports whether they fit. The counter never exceeds max, even for a
// moment. A nil Budget always fits.
func (b *Budget) take(n int64) bool {
	if b == nil || b.max <= 0 {
		return true
	}
	for range takeAttempts {
		cur := b.used.Load()
		if cur+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
	return false
}

// give returns n bytes to the budget.
func (b *Budget) give(n int64) {
	if b == nil || b.max <= 0 || n == 0 {
		return
	}
	b.used.Add(-n)
}

// Used reports the bytes currently held, for metrics and tests.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Holder wraps a ResponseWriter and holds the response (status, headers, body) so the caller can store
// the events before the client sees the answer (the at-least-once promise of SPEC.md section 5), then
// releases it byte-identical. When the body grows past max, the Budget refuses more bytes, or the
// response is a stream (text/event-stream, or a 101 protocol switch), it writes what it holds through
// and streams the rest: Overflowed() is then true and nothing is fired.
//
// Headers live in the underlying writer's header map from the start; holding them only means
// delaying WriteHeader.
type Holder struct {
	w      http.ResponseWriter
	max    int64
	budget *Budget

	status      int
	wroteHeader bool
	body        []byte
	taken       int64 // bytes reserved from budget
	overflowed  bool
	released    bool
}

// NewHolder returns a Holder for w holding at most max body bytes.
func NewHolder(w http.ResponseWriter, max int64, b *Budget) *Holder {
	return &Holder{w: w, max: max, budget: b}
}

// Header returns the underlying writer's header map.
func (h *Holder) Header() http.Header { return h.w.Header() }

// WriteHeader records the status; informational responses and streams go through at once.
func (h *Holder) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// 103 Early Hints and friends precede the real response and carry no body.
		h.w.WriteHeader(code)
		return
	}
	if h.wroteHeader {
		return // superfluous, as net/http would treat it
	}
	h.status = code
	h.wroteHeader = true
	if h.released {
		h.w.WriteHeader(code)
		return
	}
	if code == http.StatusSwitchingProtocols || isEventStream(h.w.Header()) || h.declaredTooLong() {
		_ = h.spill() // nothing held yet: only the status goes out, which cannot fail
	}
}

// declaredTooLong reports a Content-Length that can never be held.
func (h *Holder) declaredTooLong() bool {
	cl := h.w.Header().Get("Content-Length")
	if cl == "" {
		return false
	}
	n, err := strconv.ParseInt(cl, 10, 64)
	return err == nil && n > h.max
}

func isEventStream(hdr http.Header) bool {
	ct := hdr.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && strings.EqualFold(mt, "text/event-stream")
}

// Write holds p, or streams it once the Holder has overflowed.
func (h *Holder) Write(p []byte) (int, error) {
	if !h.wroteHeader && !h.overflowed {
		h.WriteHeader(http.StatusOK)
	}
	if h.overflowed || h.released {
		// Released: anything written later follows what was released, in order.
		return h.w.Write(p)
	}
	n := int64(len(p))
	if int64(len(h.body))+n > h.max || !h.budget.take(n) {
		if err := h.spill(); err != nil {
			return 0, err
		}
		return h.w.Write(p)
	}
	h.taken += n
	h.body = append(h.body, p...)
	return len(p), nil
}

// spill gives up holding: the held status and body go out now and later writes stream through.
func (h *Holder) spill() error {
	h.overflowed = true
	if h.wroteHeader {
		h.w.WriteHeader(h.status)
	}
	held := h.body
	h.body = nil
	h.budget.give(h.taken)
	h.taken = 0
	if len(held) == 0 {
		return nil
	}
	if _, err := h.w.Write(held); err != nil {
		return fmt.Errorf("writing held response body: %w", err)
	}
	return nil
}

// Flush does nothing while holding (the client gets everything at Release) and flushes the
// underlying writer once streaming.
func (h *Holder) Flush() {
	if !h.overflowed {
		return
	}
	_ = http.NewResponseController(h.w).Flush()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (h *Holder) Unwrap() http.ResponseWriter { return h.w }

// Overflowed reports that the response was streamed through instead of held.
func (h *Holder) Overflowed() bool { return h.overflowed }

// Status is the held status code (0 when nothing was written).
func (h *Holder) Status() int { return h.status }

// Body is the held body as sent by the upstream (possibly compressed).
func (h *Holder) Body() []byte { return h.body }

// DecodedBody is Body decoded per Content-Encoding (DecodeContent), at most max bytes. An error means the
// caller does not fire.
func (h *Holder) DecodedBody() ([]byte, error) {
	return DecodeContent(h.body, h.w.Header().Values("Content-Encoding"), h.max)
}

// ReplaceBody swaps the held body for b (a merged response, SPEC.md section 4): it drops
// Content-Encoding, since b is plain JSON, and sets Content-Length to match. No-op after overflow.
func (h *Holder) ReplaceBody(b []byte) {
	if h.overflowed || h.released {
		return
	}
	if !h.wroteHeader {
		h.status, h.wroteHeader = http.StatusOK, true
	}
	hdr := h.w.Header()
	hdr.Del("Content-Encoding")
	hdr.Set("Content-Length", strconv.Itoa(len(b)))
	// The budget guards memory sidehook holds on behalf of upstreams; a merged body replaces one of
	// similar size, so the reservation is simply carried over.
	h.body = b
}

// Release writes the held status, headers and body to the underlying writer. Idempotent; a no-op
// after overflow. When nothing at all was written, nothing is released, so an error handler further
// up can still answer.
func (h *Holder) Release() error {
	if h.overflowed || h.released {
		return nil
	}
	h.released = true
	defer func() {
		h.budget.give(h.taken)
		h.taken = 0
	}()
	if !h.wroteHeader {
		return nil
	}
	h.w.WriteHeader(h.status)
	if len(h.body) == 0 {
		return nil
	}
	if _, err := h.w.Write(h.body); err != nil {
		return fmt.Errorf("releasing held response body: %w", err)
	}
	return nil
}

var (
	_ http.ResponseWriter = (*Holder)(nil)
	_ http.Flusher        = (*Holder)(nil)
)
