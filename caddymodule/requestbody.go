package caddymodule

import (
	"bytes"
	"io"
	"net/http"
)

// setRequestBody makes body the whole body of r for whoever reads it next. sidehook sends rewritten bodies
// upstream (the calls left once management calls are answered locally, an identity lookup); the length and
// framing headers must describe the new body, or the upstream reads a truncated or overlong request, and
// GetBody must return it again so that a transport retrying the request resends the same bytes.
func setRequestBody(r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.Header.Del("Content-Length")
	r.TransferEncoding = nil
}
