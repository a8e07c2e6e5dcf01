package proxy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// compressors write plain in each coding a browser asks for, the way servers send it.
var compressors = map[string]func(w io.Writer) io.WriteCloser{
	"gzip":    func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) },
	"deflate": func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) },
	"br":      func(w io.Writer) io.WriteCloser { return brotli.NewWriterLevel(w, brotli.DefaultCompression) },
	"zstd": func(w io.Writer) io.WriteCloser {
		zw, err := zstd.NewWriter(w)
		if err != nil {
			panic(err)
		}
		return zw
	},
}

func compress(t *testing.T, coding string, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw io.WriteCloser
	if coding == "raw-deflate" {
		fw, err := flate.NewWriter(&buf, flate.DefaultCompression)
		if err != nil {
			t.Fatal(err)
		}
		zw = fw
	} else {
		zw = compressors[coding](&buf)
	}
	if _, err := zw.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decodeHeld holds body as a response with the given Content-Encoding header lines and decodes it.
func decodeHeld(t *testing.T, body []byte, max int64, contentEncoding ...string) ([]byte, error) {
	t.Helper()
	h := NewHolder(httptest.NewRecorder(), max, nil)
	for _, v := range contentEncoding {
		h.Header().Add("Content-Encoding", v)
	}
	if _, err := h.Write(body); err != nil {
		t.Fatal(err)
	}
	got, err := h.DecodedBody()
	if !bytes.Equal(h.Body(), body) {
		t.Fatal("decoding changed the held body")
	}
	return got, err
}

var decodePlain = []byte(`{"jsonrpc":"2.0","result":{"uid":"cand-1","text":"` + strings.Repeat("héllo ", 200) + `"},"id":1}`)

func TestDecodedBodyDecodesEveryBrowserCoding(t *testing.T) {
	for _, coding := range []string{"gzip", "deflate", "raw-deflate", "br", "zstd"} {
		t.Run(coding, func(t *testing.T) {
			header := coding
			if coding == "raw-deflate" {
				header = "deflate" // sent by servers that get deflate wrong: no zlib header
			}
			got, err := decodeHeld(t, compress(t, coding, decodePlain), 1<<20, strings.ToUpper(header))
			if err != nil || !bytes.Equal(got, decodePlain) {
				t.Fatalf("decoded %q, %v; want the plain body", got, err)
			}
		})
	}
}

// Stacked codings are undone last applied first, whether in one header line or several.
func TestDecodedBodyUndoesStackedCodings(t *testing.T) {
	gzThenBr := compress(t, "br", compress(t, "gzip", decodePlain))
	for name, lines := range map[string][]string{
		"one line":      {"gzip, br"},
		"two lines":     {"gzip", "br"},
		"with identity": {"identity, gzip,br"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := decodeHeld(t, gzThenBr, 1<<20, lines...)
			if err != nil || !bytes.Equal(got, decodePlain) {
				t.Fatalf("decoded %q, %v; want the plain body", got, err)
			}
		})
	}
	if _, err := decodeHeld(t, gzThenBr, 1<<20, "br, gzip"); err == nil {
		t.Fatal("codings undone in the wrong order must fail, not decode")
	}
	tooMany := compress(t, "gzip", compress(t, "gzip", compress(t, "gzip", compress(t, "gzip", decodePlain))))
	if _, err := decodeHeld(t, tooMany, 1<<20, "gzip, gzip, gzip, gzip"); !errors.Is(err, ErrNotDecodable) {
		t.Fatalf("four stacked codings: err = %v, want ErrNotDecodable", err)
	}
}

// A small body that inflates far past max (a decompression bomb) is refused in every coding; the same
// body decodes when max allows it, so it is the cap that refuses it.
func TestDecodedBodyRefusesABombPastMax(t *testing.T) {
	const inflated = 4 << 20
	bomb := bytes.Repeat([]byte{'0'}, inflated)
	for _, coding := range []string{"gzip", "deflate", "br", "zstd"} {
		t.Run(coding, func(t *testing.T) {
			body := compress(t, coding, bomb)
			if len(body) > 64<<10 {
				t.Fatalf("the bomb compressed to %d bytes, not a bomb", len(body))
			}
			got, err := decodeHeld(t, body, 64<<10, coding)
			if err == nil || got != nil {
				t.Fatalf("decoded %d bytes past a 64 KiB max, err %v", len(got), err)
			}
			if got, err := decodeHeld(t, body, inflated, coding); err != nil || len(got) != inflated {
				t.Fatalf("with max = its size it decodes to %d bytes, %v", len(got), err)
			}
		})
	}
}

// A zstd frame declaring a window above 8 MiB (which the decoder would have to allocate) is refused; the
// same frame declaring 8 MiB decodes.
func TestDecodedBodyRefusesAZstdWindowPastEightMiB(t *testing.T) {
	// magic, frame header descriptor (no content size, not single segment), window descriptor
	// (window = 2^(10+exponent)), then one last raw block of 5 bytes.
	frame := func(exponent byte) []byte {
		return append([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, exponent << 3, 1 | 5<<3, 0, 0}, "hello"...)
	}
	if got, err := decodeHeld(t, frame(13), 128<<20, "zstd"); err != nil || string(got) != "hello" {
		t.Fatalf("8 MiB window: %q, %v; want hello", got, err)
	}
	if got, err := decodeHeld(t, frame(16), 128<<20, "zstd"); err == nil {
		t.Fatalf("64 MiB window: decoded %q", got)
	}
}

func TestDecodedBodyRefusesUnknownAndBrokenCodings(t *testing.T) {
	if _, err := decodeHeld(t, []byte("x"), 4096, "compress"); !errors.Is(err, ErrNotDecodable) {
		t.Fatalf("compress: err = %v, want ErrNotDecodable", err)
	}
	for _, coding := range []string{"gzip", "br", "zstd"} {
		if got, err := decodeHeld(t, []byte("not compressed at all"), 4096, coding); err == nil {
			t.Errorf("%s: broken body decoded to %q", coding, got)
		}
	}
}
