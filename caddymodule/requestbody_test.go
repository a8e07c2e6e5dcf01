package caddymodule

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestSetRequestBodyDescribesTheNewBody: after a rewrite the upstream must see the new bytes with a length and
// framing that match them, and a retry through GetBody must resend the same bytes.
func TestSetRequestBodyDescribesTheNewBody(t *testing.T) {
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/rpc", strings.NewReader(`{"method":"a.b","id":1,"params":["long original"]}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Length", "49")
	r.TransferEncoding = []string{"chunked"}

	setRequestBody(r, []byte(`{"id":2}`))

	for round := 0; round < 2; round++ {
		body := r.Body
		if round == 1 {
			if body, err = r.GetBody(); err != nil {
				t.Fatal(err)
			}
		}
		got, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != `{"id":2}` {
			t.Fatalf("read %d: body %q, want the new one", round, got)
		}
	}
	if r.ContentLength != 8 {
		t.Errorf("ContentLength %d, want 8", r.ContentLength)
	}
	if v := r.Header.Get("Content-Length"); v != "" {
		t.Errorf("stale Content-Length header %q left", v)
	}
	if r.TransferEncoding != nil {
		t.Errorf("TransferEncoding %v left; the new body has a known length", r.TransferEncoding)
	}
}
