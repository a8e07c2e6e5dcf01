package caddymodule_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// slowEcho is a JSON-RPC API that answers every call with its params, a few milliseconds late, so that calls
// are in flight whenever a reload happens.
func slowEcho(delay time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		time.Sleep(delay) // a slow API, not synchronisation
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","result":{"echo":%s},"id":%s}`, gjson.GetBytes(body, "params").Raw, gjson.GetBytes(body, "id").Raw)
	})
}

// answeredCalls collects the markers of the calls whose client got a 2xx with its result.
type answeredCalls struct {
	mu      sync.Mutex
	markers []string
}

func (a *answeredCalls) add(m string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.markers = append(a.markers, m)
}

func (a *answeredCalls) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.markers)
}

func (a *answeredCalls) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.markers...)
}

// Thirty `caddy reload`s while four clients on kept-alive connections make matched calls to an API slow enough
// that calls are in flight at every reload: every call whose client got its answer is delivered, and sidehook
// drops no event. Before the old config's queue usage was tied to its in-flight requests, calls still running
// on the old config after its sidehook app stopped lost their events ("sidehook app stopped").
func TestReloadUnderLoadDeliversEveryAnsweredCall(t *testing.T) {
	const (
		reloads = 30
		clients = 4
	)
	h := newHarness(t, harnessOptions{upstream: slowEcho(3 * time.Millisecond)})
	config := `
		subscribe echo {recv}/hook {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`
	h.load(config)

	var (
		answered answeredCalls
		failures sync.Map // client-side errors, by message: expected around reloads, reported for information
		done     = make(chan struct{})
		wg       sync.WaitGroup
	)
	// The clients stop when the reloads are over, or at the latest after this, whatever happens.
	stopBy := time.Now().Add(2 * time.Minute)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
			defer client.CloseIdleConnections()
			url := fmt.Sprintf("http://127.0.0.1:%d/", h.port)
			for n := 0; time.Now().Before(stopBy); n++ {
				select {
				case <-done:
					return
				default:
				}
				marker := fmt.Sprintf("c%d-%d", c, n)
				body := fmt.Sprintf(`{"jsonrpc":"2.0","method":"echo","params":[%q],"id":%d}`, marker, n)
				resp, err := client.Post(url, "application/json", strings.NewReader(body))
				if err != nil {
					failures.Store(err.Error(), true)
					continue
				}
				out, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode/100 == 2 && gjson.GetBytes(out, "result.echo.0").String() == marker {
					answered.add(marker)
				}
			}
		}()
	}
	for i := range reloads {
		// Let some calls through between reloads, so each reload lands on running traffic.
		before := answered.count()
		waitFor(t, 30*time.Second, func() bool { return answered.count() >= before+clients }, "calls answered before reload %d", i+1)
		h.load(config) // each load picks fresh http/https ports, so it is a real reload, never "same config"
	}
	close(done)
	wg.Wait()

	markers := answered.all()
	failures.Range(func(k, _ any) bool {
		t.Logf("client error (the call was not answered, so nothing is owed): %s", k)
		return true
	})
	delivered := func() map[string]bool {
		got := map[string]bool{}
		for _, d := range h.recv.deliveries() {
			got[gjson.GetBytes(d.Body, "request.args.0").String()] = true
		}
		return got
	}
	missing := func() []string {
		got := delivered()
		var out []string
		for _, m := range markers {
			if !got[m] {
				out = append(out, m)
			}
		}
		return out
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(missing()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // polling for deliveries, bounded by the deadline
	}
	lost := missing()
	t.Logf("%d reloads, %d answered calls, %d distinct deliveries, %d lost", reloads, len(markers), len(delivered()), len(lost))
	if len(markers) < reloads*clients {
		t.Errorf("only %d calls answered: the load did not span the reloads", len(markers))
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d answered calls were never delivered, e.g. %v", len(lost), len(markers), lost[:min(len(lost), 5)])
	}
	logs, err := os.ReadFile(h.logFile())
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(logs, []byte("their events are dropped")); n > 0 {
		i := bytes.Index(logs, []byte("their events are dropped"))
		line := logs[bytes.LastIndexByte(logs[:i], '\n')+1:]
		if end := bytes.IndexByte(line, '\n'); end >= 0 {
			line = line[:end]
		}
		t.Errorf("%d log lines say events were dropped, the first: %s", n, line)
	}
}
