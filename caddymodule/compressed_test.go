package caddymodule_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/tidwall/gjson"
)

// compressingUpstream answers a JSON-RPC call with its params echoed, compressed in the codings the X-Encode
// header lists, in that order (Content-Encoding says the same).
func compressingUpstream(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		out := []byte(fmt.Sprintf(`{"jsonrpc":"2.0","result":{"echo":%s,"coding":%q},"id":%s}`,
			gjson.GetBytes(body, "params").Raw, r.Header.Get("X-Encode"), gjson.GetBytes(body, "id").Raw))
		for coding := range strings.SplitSeq(r.Header.Get("X-Encode"), ",") {
			var buf bytes.Buffer
			var zw io.WriteCloser
			switch strings.TrimSpace(coding) {
			case "gzip":
				zw = gzip.NewWriter(&buf)
			case "br":
				zw = brotli.NewWriter(&buf)
			case "zstd":
				var err error
				if zw, err = zstd.NewWriter(&buf); err != nil {
					t.Error(err)
					return
				}
			default:
				t.Errorf("unknown coding %q", coding)
				return
			}
			if _, err := zw.Write(out); err != nil {
				t.Error(err)
			}
			if err := zw.Close(); err != nil {
				t.Error(err)
			}
			out = buf.Bytes()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", r.Header.Get("X-Encode"))
		w.Write(out)
	})
}

// An upstream answering in br, zstd, or gzip then br fires a webhook carrying the decoded result, and the
// client gets exactly the compressed bytes it gets without sidehook.
func TestCompressedResponsesFireDecodedAndReachTheClientUntouched(t *testing.T) {
	h := newHarness(t, harnessOptions{upstream: compressingUpstream(t)})
	h.load(`
		subscribe echo {recv}/echo {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	codings := []string{"br", "zstd", "gzip, br"}
	send := func(port int, i int, coding string) string {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/", port),
			strings.NewReader(fmt.Sprintf(`{"jsonrpc":"2.0","method":"echo","params":[%d],"id":%d}`, i, i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd") // set by hand: the transport then leaves the body compressed
		req.Header.Set("X-Encode", coding)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", coding, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d ce=%q %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), out)
	}
	for i, coding := range codings {
		with, without := send(h.port, i, coding), send(h.plainPort, i, coding)
		if with != without || !strings.HasPrefix(with, "200 ") {
			t.Errorf("%s: the client got a different response with sidehook:\n with:    %s\n without: %s", coding, with, without)
		}
	}
	h.recv.waitCount(t, len(codings))
	h.settled(uint64(len(codings)))
	got := map[string]string{}
	for _, d := range h.recv.deliveries() {
		verify(t, h.secret, d)
		got[gjson.GetBytes(d.Body, "result.coding").String()] = gjson.GetBytes(d.Body, "result").Raw
	}
	for i, coding := range codings {
		if want := fmt.Sprintf(`{"echo":[%d],"coding":%q}`, i, coding); got[coding] != want {
			t.Errorf("%s: delivered result %s, want %s", coding, got[coding], want)
		}
	}
}
