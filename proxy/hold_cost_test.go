package proxy

import (
	"mime"
	"net/http"
	"strings"
	"testing"
)

// isEventStream skips ParseMediaType for types that cannot be an event stream; it must still say what
// ParseMediaType says for every type, odd spellings included.
func TestIsEventStreamAgreesWithParseMediaType(t *testing.T) {
	for _, ct := range []string{
		"", "application/json", "application/json; charset=utf-8", "text/event-stream", "TEXT/Event-Stream",
		" text/event-stream ; charset=utf-8", "text/event-stream;", "text/event-stream; bad", "text/event-stream;a=1;a=2",
		"text/event-\u017ftream", "text/event-streams", "text/event-stream/x", "\ttext/event-stream", "text/plain",
	} {
		mt, _, err := mime.ParseMediaType(ct)
		want := err == nil && strings.EqualFold(mt, "text/event-stream")
		if got := isEventStream(http.Header{"Content-Type": {ct}}); got != want {
			t.Errorf("isEventStream(%q) = %v, ParseMediaType says %v", ct, got, want)
		}
	}
}

// Holding an ordinary JSON answer costs the Holder and its buffer, nothing more: no parse of a header that
// is not there, no media-type parameters for a type that is not a stream.
func TestHoldingAJSONAnswerAllocatesOnlyItsBuffer(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	body := []byte(`{"jsonrpc":"2.0","result":{"ok":true},"id":1}`)
	w := &headerOnlyWriter{h: http.Header{"Content-Type": {"application/json"}}}
	n := testing.AllocsPerRun(50, func() {
		h := NewHolder(w, 1<<20, nil)
		h.WriteHeader(http.StatusOK)
		if _, err := h.Write(body); err != nil {
			t.Fatal(err)
		}
		if err := h.Release(); err != nil {
			t.Fatal(err)
		}
	})
	if n > 2 {
		t.Errorf("holding a JSON answer: %v allocations, want at most 2 (the Holder, its buffer)", n)
	}
}

// headerOnlyWriter is a ResponseWriter that discards what is written.
type headerOnlyWriter struct{ h http.Header }

func (w *headerOnlyWriter) Header() http.Header         { return w.h }
func (w *headerOnlyWriter) WriteHeader(int)             {}
func (w *headerOnlyWriter) Write(p []byte) (int, error) { return len(p), nil }
