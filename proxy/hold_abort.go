package proxy

import "net/http"

// ReleaseOnPanic is deferred right after the Holder is handed to the next handler. When that handler panics
// (reverse_proxy panics with http.ErrAbortHandler when the upstream breaks midway through the body, or the
// client goes away while it copies), the code after it never runs: without this, the held bytes' budget
// reservation would never be given back, and the client would get nothing where a Caddy without sidehook
// sends the status, the headers and the partial body before aborting.
//
// So it does what the handler below would have done to the client had sidehook not been there: what is held
// goes out and is flushed (reverse_proxy flushes before it aborts), the budget is given back, nothing fires,
// and the panic goes on so that net/http aborts the connection just the same. It must be deferred directly
// (defer holder.ReleaseOnPanic()): recover only works there.
func (h *Holder) ReleaseOnPanic() {
	v := recover()
	if v == nil {
		return
	}
	h.abort()
	panic(v)
}

// abort writes what is held to the client as it stands, gives the budget back and stops holding. Write
// errors are ignored: the connection is being torn down anyway, and the client gets what it can.
func (h *Holder) abort() {
	defer func() {
		h.budget.Return(h.taken)
		h.taken = 0
	}()
	if h.overflowed || h.released {
		return // already streaming, or already out: the client has what the handler wrote
	}
	h.released = true
	if !h.wroteHeader {
		return // nothing was written: net/http answers a panic before any write on its own
	}
	h.w.WriteHeader(h.status)
	if len(h.body) > 0 {
		_, _ = h.w.Write(h.body)
	}
	h.body = nil
	_ = http.NewResponseController(h.w).Flush()
}
