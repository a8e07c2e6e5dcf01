package proxy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// ErrNotDecodable is returned by DecodeContent for a Content-Encoding sidehook does not decode.
var ErrNotDecodable = errors.New("proxy: response content encoding not supported")

// maxContentCodings bounds how many stacked encodings ("gzip, br") DecodeContent undoes. Real servers
// apply one; a longer list only costs CPU and is refused.
const maxContentCodings = 3

// zstdMaxWindow is the largest zstd window accepted: 8 MiB is what RFC 8878 asks HTTP decoders to
// support, so every server's output decodes, while a frame that declares a larger window (and would make
// the decoder allocate it) is refused.
const zstdMaxWindow = 8 << 20

// DecodeContent undoes the Content-Encoding of a response body, so events carry the result the client
// reads after its own decoding. contentEncoding is every Content-Encoding header value as sent; codings
// listed in the order they were applied are undone last first. gzip (x-gzip), deflate, br and zstd are
// decoded, identity is skipped, anything else is ErrNotDecodable. Each decoded layer is cut off at max
// bytes and is then an error: a small compressed body that inflates without end (a decompression bomb)
// never costs more than max bytes of memory. Every byte of capacity a decoded layer allocates is first asked
// of reserve (nil: no accounting), so the decoded copies are counted in the memory budget before they exist;
// a refusal is ErrNoMemory.
func DecodeContent(body []byte, contentEncoding []string, max int64, reserve func(n int64) bool) ([]byte, error) {
	var codings []string
	for _, value := range contentEncoding {
		for coding := range strings.SplitSeq(value, ",") {
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "" && coding != "identity" {
				codings = append(codings, coding)
			}
		}
	}
	if len(codings) > maxContentCodings {
		return nil, fmt.Errorf("content encoding %q: more than %d stacked codings: %w", strings.Join(contentEncoding, ", "), maxContentCodings, ErrNotDecodable)
	}
	for i := len(codings) - 1; i >= 0; i-- {
		var err error
		if body, err = decodeOne(body, codings[i], max, reserve); err != nil {
			return nil, err
		}
	}
	return body, nil
}

// decodeOne undoes one coding, reading at most max decoded bytes into a buffer whose growth reserve allows.
func decodeOne(body []byte, coding string, max int64, reserve func(n int64) bool) ([]byte, error) {
	out := &reservingBuffer{reserve: reserve, limit: max}
	var r io.Reader
	switch coding {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("decoding gzip response: %w", err)
		}
		defer zr.Close()
		out.sizeHint(gzipSizeHint(body))
		r = zr
	case "deflate":
		// HTTP's deflate is the zlib format, but some servers send raw deflate: both are accepted.
		if zr, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
			defer zr.Close()
			r = zr
		} else {
			fr := flate.NewReader(bytes.NewReader(body))
			defer fr.Close()
			r = fr
		}
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body),
			zstd.WithDecoderConcurrency(1), // decode in this goroutine: no workers to start and stop
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
		)
		if err != nil {
			return nil, fmt.Errorf("decoding zstd response: %w", err)
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("content encoding %q: %w", coding, ErrNotDecodable)
	}
	if _, err := io.Copy(out, r); err != nil {
		if errors.Is(err, ErrNoMemory) {
			return nil, err
		}
		return nil, fmt.Errorf("decoding %s response: %w", coding, err)
	}
	return out.buf, nil
}
