package proxy

import (
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// upstreamResponse plays a response the way reverse_proxy writes it: headers, status, body chunks.
type upstreamResponse struct {
	status  int
	headers map[string]string
	chunks  []string
}

func (u upstreamResponse) writeTo(w http.ResponseWriter) {
	for k, v := range u.headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(u.status)
	for _, c := range u.chunks {
		if _, err := w.Write([]byte(c)); err != nil {
			panic(err)
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
}

func TestHolder(t *testing.T) {
	json := upstreamResponse{status: 201, headers: map[string]string{"Content-Type": "application/json", "X-Up": "1"},
		chunks: []string{`{"jsonrpc":"2.0",`, `"result":1,"id":1}`}}
	big := upstreamResponse{status: 200, headers: map[string]string{"Content-Type": "application/json"},
		chunks: []string{strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40)}}
	sse := upstreamResponse{status: 200, headers: map[string]string{"Content-Type": "text/event-stream; charset=utf-8"},
		chunks: []string{"data: 1\n\n", "data: 2\n\n"}}
	declared := upstreamResponse{status: 200, headers: map[string]string{"Content-Length": "1000"}, chunks: []string{"x"}}
	cases := []struct {
		name           string
		resp           upstreamResponse
		max            int64
		budget         *Budget
		wantOverflowed bool
	}{
		{name: "held then released", resp: json, max: 1024},
		{name: "overflow past max mid-body", resp: big, max: 100, wantOverflowed: true},
		{name: "exactly max is held", resp: big, max: 120},
		{name: "budget refusal", resp: big, max: 1024, budget: NewBudget(50), wantOverflowed: true},
		{name: "server-sent events stream", resp: sse, max: 1024, wantOverflowed: true},
		{name: "content length over max", resp: declared, max: 100, wantOverflowed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			direct := httptest.NewRecorder()
			tc.resp.writeTo(direct)

			rec := httptest.NewRecorder()
			h := NewHolder(rec, tc.max, tc.budget)
			tc.resp.writeTo(h)
			if h.Overflowed() != tc.wantOverflowed {
				t.Fatalf("Overflowed = %v, want %v", h.Overflowed(), tc.wantOverflowed)
			}
			if !tc.wantOverflowed {
				if rec.Body.Len() != 0 || rec.Flushed {
					t.Fatal("client saw bytes before Release")
				}
				if h.Status() != tc.resp.status || string(h.Body()) != direct.Body.String() {
					t.Fatalf("held %d %q", h.Status(), h.Body())
				}
			}
			if err := h.Release(); err != nil {
				t.Fatal(err)
			}
			if err := h.Release(); err != nil {
				t.Fatal(err)
			}
			if rec.Code != direct.Code || rec.Body.String() != direct.Body.String() {
				t.Fatalf("client got %d %q, want %d %q", rec.Code, rec.Body, direct.Code, direct.Body)
			}
			for k := range direct.Header() {
				if rec.Header().Get(k) != direct.Header().Get(k) {
					t.Errorf("header %s = %q, want %q", k, rec.Header().Get(k), direct.Header().Get(k))
				}
			}
			if tc.budget != nil && tc.budget.Used() != 0 {
				t.Errorf("budget still holds %d bytes", tc.budget.Used())
			}
		})
	}
}

func TestHolderReturnsBudget(t *testing.T) {
	b := NewBudget(100)
	h1 := NewHolder(httptest.NewRecorder(), 1000, b)
	h2 := NewHolder(httptest.NewRecorder(), 1000, b)
	if _, err := h1.Write(bytes.Repeat([]byte("x"), 80)); err != nil {
		t.Fatal(err)
	}
	if _, err := h2.Write(bytes.Repeat([]byte("y"), 30)); err != nil {
		t.Fatal(err)
	}
	if h1.Overflowed() || !h2.Overflowed() {
		t.Fatalf("overflowed h1=%v h2=%v, want false true", h1.Overflowed(), h2.Overflowed())
	}
	if err := h1.Release(); err != nil {
		t.Fatal(err)
	}
	if b.Used() != 0 {
		t.Fatalf("Used = %d after release", b.Used())
	}
	h3 := NewHolder(httptest.NewRecorder(), 1000, b)
	if _, err := h3.Write(bytes.Repeat([]byte("z"), 90)); err != nil || h3.Overflowed() {
		t.Fatalf("budget not reusable after release: err=%v overflowed=%v", err, h3.Overflowed())
	}
}

func TestHolderSwitchingProtocols(t *testing.T) {
	rec := httptest.NewRecorder()
	h := NewHolder(rec, 1024, nil)
	h.WriteHeader(http.StatusSwitchingProtocols)
	if !h.Overflowed() || rec.Code != http.StatusSwitchingProtocols {
		t.Fatalf("101 held: overflowed=%v code=%d", h.Overflowed(), rec.Code)
	}
	if h.Unwrap() != http.ResponseWriter(rec) {
		t.Fatal("Unwrap does not return the underlying writer")
	}
}

func TestHolderDecodedBody(t *testing.T) {
	plain := `{"jsonrpc":"2.0","result":"` + strings.Repeat("ok", 100) + `","id":1}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write([]byte(plain)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		encoding string
		body     []byte
		max      int64
		want     string
		wantErr  bool
	}{
		{name: "identity", body: []byte(plain), max: 4096, want: plain},
		{name: "gzip", encoding: "gzip", body: gz.Bytes(), max: 4096, want: plain},
		{name: "gzip bomb past max", encoding: "gzip", body: gz.Bytes(), max: int64(gz.Len()) + 10, wantErr: true},
		{name: "broken gzip", encoding: "gzip", body: []byte("nope"), max: 4096, wantErr: true},
		{name: "unknown coding", encoding: "compress", body: []byte("x"), max: 4096, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h := NewHolder(rec, tc.max, nil)
			if tc.encoding != "" {
				h.Header().Set("Content-Encoding", tc.encoding)
			}
			if _, err := h.Write(tc.body); err != nil {
				t.Fatal(err)
			}
			got, err := h.DecodedBody()
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && string(got) != tc.want {
				t.Fatalf("decoded %q", got)
			}
			if tc.encoding == "compress" && !errors.Is(err, ErrNotDecodable) {
				t.Fatalf("err = %v, want ErrNotDecodable", err)
			}
			if !bytes.Equal(h.Body(), tc.body) {
				t.Fatal("Body changed by decoding")
			}
		})
	}
}

func TestHolderReplaceBody(t *testing.T) {
	rec := httptest.NewRecorder()
	h := NewHolder(rec, 1024, nil)
	h.Header().Set("Content-Encoding", "gzip")
	h.Header().Set("Content-Length", "3")
	h.WriteHeader(http.StatusOK)
	if _, err := h.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	h.ReplaceBody([]byte(`{"merged":true}`))
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	if rec.Body.String() != `{"merged":true}` || rec.Header().Get("Content-Encoding") != "" || rec.Header().Get("Content-Length") != "15" {
		t.Fatalf("got %q with headers %v", rec.Body, rec.Header())
	}
}

func TestHolderNothingWrittenReleasesNothing(t *testing.T) {
	rec := httptest.NewRecorder()
	h := NewHolder(rec, 1024, nil)
	h.Flush()
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	if rec.Body.Len() != 0 || rec.Flushed {
		t.Fatal("something was written")
	}
}

// TestBudgetUnderConcurrency runs many holders against one budget: the cap is never exceeded and
// every byte comes back.
func TestBudgetUnderConcurrency(t *testing.T) {
	const workers, max = 8, 1000
	b := NewBudget(max)
	var done, exceeded atomic.Int64
	for w := range workers {
		go func() {
			defer done.Add(1)
			for i := range 200 {
				h := NewHolder(httptest.NewRecorder(), 4096, b)
				for range 3 {
					if _, err := h.Write(bytes.Repeat([]byte{byte(w)}, 50+i%100)); err != nil {
						panic(err)
					}
					if b.Used() > max {
						exceeded.Add(1)
					}
				}
				if err := h.Release(); err != nil {
					panic(err)
				}
			}
		}()
	}
	waitFor(t, 30*time.Second, func() bool { return done.Load() == workers })
	if exceeded.Load() != 0 {
		t.Fatalf("budget exceeded %d times", exceeded.Load())
	}
	if b.Used() != 0 {
		t.Fatalf("Used = %d after every holder released", b.Used())
	}
}
