package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// trackingBody is a request body that reports Close and may fail after its data.
type trackingBody struct {
	r      io.Reader
	err    error
	closed bool
}

func (b *trackingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) && b.err != nil {
		return n, b.err
	}
	return n, err
}

func (b *trackingBody) Close() error { b.closed = true; return nil }

func TestReadBody(t *testing.T) {
	errBroken := errors.New("connection reset")
	const max = 16
	cases := []struct {
		name          string
		data          string
		contentLength int64 // -1: unknown
		readErr       error
		wantOK        bool
		wantErr       error // what the restored stream ends with
	}{
		{name: "under max", data: "0123456789", contentLength: 10, wantOK: true},
		{name: "exactly max", data: strings.Repeat("x", max), contentLength: -1, wantOK: true},
		{name: "over max, stream restored", data: strings.Repeat("y", 3*max+5), contentLength: -1},
		{name: "content length over max", data: strings.Repeat("z", max+1), contentLength: max + 1},
		{name: "read error", data: "abc", contentLength: -1, readErr: errBroken, wantErr: errBroken},
		{name: "empty", data: "", contentLength: 0, wantOK: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orig := &trackingBody{r: strings.NewReader(tc.data), err: tc.readErr}
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Body, r.ContentLength = orig, tc.contentLength
			b, ok := ReadBody(r, max)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if ok {
				defer b.Release()
				if string(b.Bytes) != tc.data {
					t.Fatalf("Bytes = %q, want %q", b.Bytes, tc.data)
				}
				if r.ContentLength != int64(len(tc.data)) {
					t.Errorf("ContentLength = %d, want %d", r.ContentLength, len(tc.data))
				}
				again, err := r.GetBody()
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := io.ReadAll(again); string(got) != tc.data {
					t.Errorf("GetBody yields %q", got)
				}
			} else if b != nil {
				t.Fatal("body returned with ok=false")
			}
			got, err := io.ReadAll(r.Body)
			if string(got) != tc.data {
				t.Errorf("next handler reads %q, want %q", got, tc.data)
			}
			if !errors.Is(err, tc.wantErr) && !(tc.wantErr == nil && err == nil) {
				t.Errorf("stream ends with %v, want %v", err, tc.wantErr)
			}
			if err := r.Body.Close(); err != nil {
				t.Fatal(err)
			}
			if !orig.closed && tc.data != "" {
				t.Error("original body not closed")
			}
		})
	}
}

func TestReadBodyContentLengthOverMaxReadsNothing(t *testing.T) {
	orig := &trackingBody{r: strings.NewReader("abcdef")}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Body, r.ContentLength = orig, 6
	if _, ok := ReadBody(r, 5); ok {
		t.Fatal("ok = true")
	}
	if r.Body != io.ReadCloser(orig) {
		t.Fatal("body replaced although nothing was read")
	}
	if rest, _ := io.ReadAll(orig); string(rest) != "abcdef" {
		t.Fatalf("body consumed: %q left", rest)
	}
}

func TestReadBodyReusesPooledBuffers(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	data := bytes.Repeat([]byte("a"), 1024)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	allocs := testing.AllocsPerRun(50, func() {
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
		b, ok := ReadBody(r, 4096)
		if !ok {
			t.Fatal("not ok")
		}
		_ = r.Body.Close() // as the transport does: the buffer is reused once closed and released
		b.Release()
	})
	// The two allocations are the test's own NopCloser and bytes.Reader.
	if allocs > 2 {
		t.Fatalf("ReadBody allocates %v per call beyond the test's reader", allocs)
	}
}
