package proxy

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// Budget is a global cap on the bytes that observed calls may have in memory at once (the held responses
// and the copies made while their events are built and stored), so many large or slow calls cannot make
// sidehook grow without bound. Lock free: one atomic counter.
type Budget struct {
	max  atomic.Int64
	used atomic.Int64
}

// NewBudget returns a Budget of max bytes; max <= 0 means no cap.
func NewBudget(max int64) *Budget {
	b := &Budget{}
	b.max.Store(max)
	return b
}

// SetMax changes the cap. Reservations already made stay; while more is used than the new cap, new ones
// are refused until enough is given back.
func (b *Budget) SetMax(max int64) { b.max.Store(max) }

// Max reports the cap (<= 0: none).
func (b *Budget) Max() int64 {
	if b == nil {
		return 0
	}
	return b.max.Load()
}

// takeAttempts bounds the compare-and-swap loop in take: under extreme contention a reservation is
// refused rather than spun on, and a refused Holder simply streams.
const takeAttempts = 64

// Reserve takes n bytes and reports whether they fit; the caller gives them back with Return. The counter
// never exceeds the cap, even for a moment. A nil Budget always fits.
//
// Used is counted even without a cap, so that what is in flight can always be observed.
func (b *Budget) Reserve(n int64) bool {
	if b == nil || n <= 0 {
		return true
	}
	max := b.max.Load()
	if max <= 0 {
		b.used.Add(n)
		return true
	}
	for range takeAttempts {
		cur := b.used.Load()
		if cur+n > max {
			return false
		}
		if b.used.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
	return false
}

// Return gives back n bytes taken with Reserve.
func (b *Budget) Return(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.used.Add(-n)
}

// Used reports the bytes currently reserved, for metrics and tests.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Holder wraps a ResponseWriter and holds the response (status, headers, body) so the caller can store
// the events before the client sees the answer (the at-least-once promise, docs/architecture.md), then
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
	costPerByte int64 // budget bytes reserved per byte of capacity (1 + the copies to come)
	overflowed  bool
	released    bool
	// budgetRefused: the overflow came from the budget, not from max (counted apart: memory_budget)
	budgetRefused bool
}

// NewHolder returns a Holder for w holding at most max body bytes.
func NewHolder(w http.ResponseWriter, max int64, b *Budget) *Holder {
	return &Holder{w: w, max: max, budget: b, costPerByte: 1}
}

// ReserveForCopies makes every byte of capacity the Holder allocates reserve copies more bytes of the budget:
// the copies the caller will make of the response once it is held. Reserving them while holding means a
// response the budget cannot afford streams through at once, instead of being held, then not observed.
func (h *Holder) ReserveForCopies(copies int64) { h.costPerByte = 1 + max(copies, 0) }

// Prepaid is what the Holder reserved beyond its own buffer, for the copies announced with ReserveForCopies.
func (h *Holder) Prepaid() int64 { return max(h.taken-int64(cap(h.body)), 0) }

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
	// ParseMediaType allocates (its parameter map): it is only asked about a type that can be an event stream,
	// which it takes from before the first ';', trimmed and lower-cased. EqualFold is at least as lenient as that
	// lower-casing, so every type it would accept still reaches it; application/json never does.
	if base, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(base), "text/event-stream") {
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
	need := int64(len(h.body)) + int64(len(p))
	if need > h.max || !h.grow(need) {
		if err := h.spill(); err != nil {
			return 0, err
		}
		return h.w.Write(p)
	}
	h.body = append(h.body, p...)
	return len(p), nil
}

// grow makes room for need bytes, taking from the budget what the buffer's capacity grows by (the memory
// really allocated, not just the bytes written). A declared Content-Length sizes the buffer once. It
// reports false, and marks the refusal, when the budget has no room.
func (h *Holder) grow(need int64) bool {
	have := int64(cap(h.body))
	if need <= have {
		return true
	}
	newCap := max(2*have, need)
	if have == 0 {
		// Without a Content-Length (the header is "") ParseInt is not asked: its error would be an allocation.
		if v := h.w.Header().Get("Content-Length"); v != "" {
			if cl, err := strconv.ParseInt(v, 10, 64); err == nil && cl >= need {
				newCap = cl
			}
		}
	}
	newCap = min(newCap, max(h.max, need))
	cost := (newCap - have) * h.costPerByte
	if !h.budget.Reserve(cost) {
		h.budgetRefused = true
		return false
	}
	h.taken += cost
	grown := make([]byte, len(h.body), newCap)
	copy(grown, h.body)
	h.body = grown
	return true
}

// BudgetRefused reports that the response streamed through because the memory budget had no room for it.
func (h *Holder) BudgetRefused() bool { return h.budgetRefused }

// spill gives up holding: the held status and body go out now and later writes stream through.
func (h *Holder) spill() error {
	h.overflowed = true
	if h.wroteHeader {
		h.w.WriteHeader(h.status)
	}
	held := h.body
	h.body = nil
	h.budget.Return(h.taken)
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
func (h *Holder) DecodedBody() ([]byte, error) { return h.DecodedBodyReserving(nil) }

// ErrNoMemory is returned by DecodedBodyReserving when reserve refused the memory decoding needs.
var ErrNoMemory = errors.New("proxy: no room in the memory budget to decode the response")

// DecodedBodyReserving is DecodedBody where every growth of a decoding buffer is first asked of reserve
// (nil: no accounting), so the decoded copy of a compressed response is counted like the held one. An
// identity body is not copied and costs nothing.
func (h *Holder) DecodedBodyReserving(reserve func(n int64) bool) ([]byte, error) {
	return DecodeContent(h.body, h.w.Header().Values("Content-Encoding"), h.max, reserve)
}

// ReplaceBody swaps the held body for b (a merged response, docs/payloads.md#the-management-api): it drops
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
		h.budget.Return(h.taken)
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
