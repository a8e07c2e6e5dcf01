package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// statusUpstream answers as the X-Answer header asks: a JSON-RPC error with HTTP 400 (as aria2 does for a
// single call), a JSON-RPC result with 200, a gateway's HTML page with 502, or a JSON body that is not a
// JSON-RPC answer with 400.
var statusUpstream = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := gjson.GetBytes(body, "id").Raw
	w.Header().Set("Content-Type", "application/json")
	switch r.Header.Get("X-Answer") {
	case "rpc-error-400":
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"jsonrpc":"2.0","error":{"code":1,"message":"GID not found"},"id":%s}`, id)
	case "result-200":
		fmt.Fprintf(w, `{"jsonrpc":"2.0","result":"OK","id":%s}`, id)
	case "html-502":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
	case "json-not-rpc-400":
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"bad request"}`)
	}
})

// With fire_on_error, a JSON-RPC error answered with HTTP 400 fires like the same error inside a 200 batch,
// and a 200 result still fires; a non-2xx body that is not a JSON-RPC answer to the call never fires.
// Without fire_on_error, the 400 error fires nothing. The client gets what the upstream sent either way.
func TestFireOnErrorFiresAJSONRPCErrorWhateverTheHTTPStatus(t *testing.T) {
	for _, tc := range []struct {
		name        string
		fireOnError bool
		fires       []string // X-Answer of the calls that fire
	}{
		{"fire_on_error", true, []string{"rpc-error-400", "result-200"}},
		{"without fire_on_error", false, []string{"result-200"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{upstream: statusUpstream})
			option := ""
			if tc.fireOnError {
				option = "fire_on_error"
			}
			h.load(option + `
		subscribe aria2.remove {recv}/remove {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
			answers := []string{"rpc-error-400", "html-502", "json-not-rpc-400", "result-200"}
			for i, answer := range answers {
				req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/jsonrpc", h.port),
					strings.NewReader(fmt.Sprintf(`{"jsonrpc":"2.0","method":"aria2.remove","params":[%q],"id":%d}`, answer, i)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Answer", answer)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if answer == "rpc-error-400" && (resp.StatusCode != http.StatusBadRequest || gjson.GetBytes(out, "error.code").Int() != 1) {
					t.Errorf("%s: the client got %d %s", answer, resp.StatusCode, out)
				}
			}
			h.recv.waitCount(t, len(tc.fires))
			h.settled(uint64(len(tc.fires)))
			got := h.recv.deliveries()
			fired := map[string]gjson.Result{}
			for _, d := range got {
				ev := gjson.ParseBytes(d.Body)
				fired[ev.Get("request.args.0").String()] = ev
			}
			if len(got) != len(tc.fires) || len(fired) != len(tc.fires) {
				for _, d := range got {
					t.Logf("delivered: %s", d.Body)
				}
				t.Fatalf("want %d deliveries (%v), got %d", len(tc.fires), tc.fires, len(got))
			}
			for _, answer := range tc.fires {
				ev, ok := fired[answer]
				switch {
				case !ok:
					t.Errorf("%s did not fire", answer)
				case answer == "rpc-error-400" && (ev.Get("error.message").String() != "GID not found" || ev.Get("result").Exists()):
					t.Errorf("%s: the event must carry the JSON-RPC error: %s", answer, ev.Raw)
				case answer == "result-200" && ev.Get("result").String() != "OK":
					t.Errorf("%s: the event must carry the result: %s", answer, ev.Raw)
				}
			}
		})
	}
}
