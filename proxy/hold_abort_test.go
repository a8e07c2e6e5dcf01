package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A handler that panics while its response is held (reverse_proxy's http.ErrAbortHandler) leaves the client
// with what was written so far, flushed, the budget whole again, and the panic still going.
func TestHolderReleaseOnPanicWritesWhatIsHeldAndPanicsOn(t *testing.T) {
	b := NewBudget(1 << 20)
	rec := httptest.NewRecorder()
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		h := NewHolder(rec, 1<<20, b)
		defer h.ReleaseOnPanic()
		h.Header().Set("Content-Length", "100")
		h.WriteHeader(http.StatusAccepted)
		_, _ = h.Write([]byte("partial"))
		if b.Used() != 100 {
			t.Fatalf("budget holds %d bytes while holding, want the declared 100", b.Used())
		}
		panic(http.ErrAbortHandler)
	}()
	if recovered != http.ErrAbortHandler {
		t.Fatalf("the panic did not go on: recovered %v", recovered)
	}
	if rec.Code != http.StatusAccepted || rec.Body.String() != "partial" || !rec.Flushed {
		t.Errorf("client got %d %q (flushed %v), want 202 \"partial\" flushed", rec.Code, rec.Body.String(), rec.Flushed)
	}
	if b.Used() != 0 {
		t.Errorf("budget still holds %d bytes after the panic", b.Used())
	}
}

// A panic before anything was written sends nothing: net/http, not sidehook, decides what the client gets.
func TestHolderReleaseOnPanicBeforeAnyWriteSendsNothing(t *testing.T) {
	rec := httptest.NewRecorder()
	func() {
		defer func() { _ = recover() }()
		h := NewHolder(rec, 1<<20, nil)
		defer h.ReleaseOnPanic()
		panic(http.ErrAbortHandler)
	}()
	if rec.Flushed || rec.Body.Len() != 0 {
		t.Errorf("something was sent: flushed %v, %q", rec.Flushed, rec.Body.String())
	}
}
