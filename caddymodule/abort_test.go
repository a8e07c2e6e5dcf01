package caddymodule_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// breakingUpstream answers JSON-RPC calls by method:
//   - "abort" (alone or in a batch): status, headers and the first part of a result of partSize bytes, then the connection is cut
//     (with a Content-Length announcing the whole, or chunked when chunked is set);
//   - anything else: a complete result of bigSize bytes.
type breakingUpstream struct {
	partSize, bigSize int
	chunked           bool
}

func (u breakingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := gjson.GetBytes(body, "id").Raw
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Upstream", "breaking")
	if !bytes.Contains(body, []byte(`"method":"abort"`)) {
		fmt.Fprintf(w, `{"jsonrpc":"2.0","result":"%s","id":%s}`, strings.Repeat("b", u.bigSize), id)
		return
	}
	part := `{"jsonrpc":"2.0","id":` + id + `,"result":"` + strings.Repeat("a", u.partSize)
	if !u.chunked {
		w.Header().Set("Content-Length", strconv.Itoa(len(part)+1000))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, part)
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler) // net/http cuts the connection: reverse_proxy sees the body break midway
}

// rawExchange sends one HTTP/1.1 request on a fresh TCP connection and returns every byte the server sent
// until it closed the connection, with the Date header's value blanked (two servers answer at different
// instants; nothing else may differ).
func rawExchange(t *testing.T, port int, body string) []byte {
	t.Helper()
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", port, len(body), body)
	var got bytes.Buffer
	_, err = io.Copy(&got, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server did not close the connection within 20s; got %d bytes", got.Len())
	}
	return dateHeader.ReplaceAll(got.Bytes(), []byte("Date: -\r\n"))
}

var dateHeader = regexp.MustCompile(`(?m)^Date: [^\r\n]*\r\n`)

// When the upstream breaks midway through a response that sidehook holds, the client gets exactly the bytes a
// Caddy without sidehook sends (status, headers, the partial body, then the cut connection), and nothing fires.
func TestBrokenUpstreamLooksTheSameThroughSidehook(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			h := newHarness(t, harnessOptions{upstream: breakingUpstream{partSize: 100 << 10, bigSize: 10, chunked: chunked}})
			h.load(`
		subscribe * {recv}/hook {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
			call := `{"jsonrpc":"2.0","method":"abort","params":[1],"id":7}`
			with, without := rawExchange(t, h.port, call), rawExchange(t, h.plainPort, call)
			if chunked {
				// A held body goes out in one write, so its chunk boundaries differ; what the chunks carry may not.
				with, without = dechunk(t, with), dechunk(t, without)
			}
			if !bytes.HasPrefix(without, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.Contains(without, []byte(strings.Repeat("a", 100<<10))) {
				t.Fatalf("the plain site did not send the partial response (%d bytes): %.300q", len(without), without)
			}
			if !bytes.Equal(with, without) {
				t.Errorf("the client got other bytes with sidehook (%d) than without (%d):\n with:    %.400q\n without: %.400q", len(with), len(without), with, without)
			}
			// A complete call afterwards fires: only it may arrive.
			if status, _ := h.post(`{"jsonrpc":"2.0","method":"whole","params":[2],"id":8}`); status != http.StatusOK {
				t.Fatalf("complete call: status %d", status)
			}
			h.settled(1)
			if got := h.recv.deliveries(); len(got) != 1 || !bytes.Contains(got[0].Body, []byte(`"whole"`)) {
				t.Errorf("want exactly the complete call delivered, got %d deliveries", len(got))
			}
			if used := h.budgetReserved(); used != 0 {
				t.Errorf("budget_reserved_bytes = %d after every call ended, want 0", used)
			}
		})
	}
}

// dechunk turns a raw chunked HTTP/1.1 response into its head followed by the chunks' data, up to where the
// connection was cut.
func dechunk(t *testing.T, raw []byte) []byte {
	t.Helper()
	head, rest, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no end of headers in %.200q", raw)
	}
	out := append(append([]byte(nil), head...), "\r\n\r\n"...)
	br := bufio.NewReader(bytes.NewReader(rest))
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return append(out, "<cut>"...)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
		if err != nil {
			t.Fatalf("bad chunk size line %q", line)
		}
		if n == 0 {
			return append(out, "<end>"...)
		}
		data := make([]byte, n)
		got, _ := io.ReadFull(br, data)
		out = append(out, data[:got]...)
		if int64(got) < n {
			return append(out, "<cut>"...)
		}
		if _, err := br.Discard(2); err != nil {
			return append(out, "<cut>"...)
		}
	}
}

// Responses cut midway (the upstream breaking) give their hold budget back: after 1,000 of them, more than the
// default 256 MiB budget in all, a matched call with a 256 KiB answer still fires.
func TestHoldBudgetSurvivesAbortedResponses(t *testing.T) {
	h := newHarness(t, harnessOptions{upstream: breakingUpstream{partSize: 300 << 10, bigSize: 256 << 10}})
	h.load(`
		subscribe * {recv}/hook {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	const aborts, workers = 1000, 4
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
			for i := range next {
				resp, err := client.Post(fmt.Sprintf("http://127.0.0.1:%d/", h.port), "application/json",
					strings.NewReader(fmt.Sprintf(`{"jsonrpc":"2.0","method":"abort","params":[%d],"id":%d}`, i, i)))
				if err != nil {
					continue // the cut may come before the headers are read
				}
				if _, err := io.Copy(io.Discard, resp.Body); err == nil {
					t.Errorf("call %d: the cut response read as complete", i)
				}
				resp.Body.Close()
			}
		}()
	}
	for i := range aborts {
		next <- i
	}
	close(next)
	wg.Wait()
	status, out := h.post(`{"jsonrpc":"2.0","method":"whole","params":["big"],"id":1}`)
	if status != http.StatusOK || len(out) < 256<<10 {
		t.Fatalf("matched call: status %d, %d bytes", status, len(out))
	}
	h.settled(1)
	got := h.recv.deliveries()
	if len(got) != 1 || !bytes.Contains(got[0].Body, []byte(strings.Repeat("b", 256<<10))) {
		t.Fatalf("want the 256 KiB call delivered once, got %d deliveries", len(got))
	}
	if used := h.budgetReserved(); used != 0 {
		t.Errorf("budget_reserved_bytes = %d after every call ended, want 0", used)
	}
}

// budgetReserved reads budget_reserved_bytes from the admin API's stats.
func (h *harness) budgetReserved() int64 {
	h.t.Helper()
	var s struct {
		Reserved *int64 `json:"budget_reserved_bytes"`
	}
	adminGet(h.t, "/sidehook/stats", &s)
	if s.Reserved == nil {
		h.t.Fatal("GET /sidehook/stats has no budget_reserved_bytes")
	}
	return *s.Reserved
}

// The same when the call also carries a management call that sidehook answers itself: the upstream's broken
// answer cannot be merged with it, and goes to the client exactly as it would without sidehook.
func TestBrokenUpstreamUnderAManagedCallLooksTheSameThroughSidehook(t *testing.T) {
	h := newHarness(t, harnessOptions{upstream: breakingUpstream{partSize: 100 << 10, bigSize: 10}})
	h.load(`
		management
		identity {
			client 42
			user 7
		}
		subscribe * {recv}/hook {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	batch := `[{"jsonrpc":"2.0","method":"WebhooksService.getList","params":[],"id":1},{"jsonrpc":"2.0","method":"abort","params":[],"id":2}]`
	with, without := rawExchange(t, h.port, batch), rawExchange(t, h.plainPort, batch)
	if !bytes.Contains(without, []byte(strings.Repeat("a", 100<<10))) {
		t.Fatalf("the plain site did not send the partial response (%d bytes): %.300q", len(without), without)
	}
	if !bytes.Equal(with, without) {
		t.Errorf("the client got other bytes with sidehook (%d) than without (%d):\n with:    %.400q\n without: %.400q", len(with), len(without), with, without)
	}
	h.settled(0)
	if used := h.budgetReserved(); used != 0 {
		t.Errorf("budget_reserved_bytes = %d after every call ended, want 0", used)
	}
}
