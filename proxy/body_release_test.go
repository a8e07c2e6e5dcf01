package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// An http.Transport may read and close the request body after the handler returned (and released the
// buffer): the reader must still give the request's own bytes, whatever other requests do meanwhile.
func TestBodyOutlivesReleaseUntilClosed(t *testing.T) {
	const want = `{"jsonrpc":"2.0","method":"a.b","params":[1],"id":1}`
	r, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader(want))
	b, ok := ReadBody(r, 1<<20)
	if !ok {
		t.Fatal("ReadBody refused a small body")
	}
	b.Release() // the handler is done; the transport is not

	// Other requests come and go, reusing pooled buffers.
	for i := 0; i < 50; i++ {
		other, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 60)))
		ob, ok := ReadBody(other, 1<<20)
		if !ok {
			t.Fatal("ReadBody refused a small body")
		}
		_, _ = io.Copy(io.Discard, other.Body)
		_ = other.Body.Close()
		ob.Release()
	}

	got, err := io.ReadAll(r.Body)
	if err != nil || string(got) != want {
		t.Fatalf("body read after Release = %q, %v; want the request's own bytes %q", got, err, want)
	}
	rc, err := r.GetBody()
	if err != nil {
		t.Fatalf("GetBody while the body is still open: %v", err)
	}
	again, _ := io.ReadAll(rc)
	if !bytes.Equal(again, []byte(want)) {
		t.Fatalf("GetBody replay = %q", again)
	}
	_ = rc.Close()
	_ = r.Body.Close()
	_ = r.Body.Close() // a second Close must not release twice
	if _, err := r.GetBody(); !errors.Is(err, errBodyReleased) {
		t.Fatalf("GetBody after everything was closed and released: %v, want errBodyReleased", err)
	}
}
