package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The memory budget bounds what observed calls cost, whatever subscribes: under 200 concurrent calls with
// 8 MiB answers, every one matched by a `*` subscription, the process's peak resident memory stays within
// the budget plus budgetOverhead; the calls the budget has no room for pass through, answered in full, and
// are counted as passed_through_total{reason="memory_budget"}. (Without the budget covering every copy, this
// load peaked at 1.5 GiB.) The budget is the smallest that still lets one 8 MiB call be observed at a time.
func TestMemoryBudgetBoundsPeakRSSUnderLargeMatchedResponses(t *testing.T) {
	const (
		budget     = 160 << 20
		clients    = 200
		answerSize = 8 << 20
	)
	peak, metrics := peakRSSUnderLoad(t, "*", fmt.Sprintf("memory_budget %d", budget), clients, answerSize)
	t.Logf("peak RSS %d MiB with memory_budget %d MiB", peak>>20, budget>>20)
	if peak > budget+budgetOverhead {
		t.Errorf("peak RSS %d MiB, more than the budget %d MiB + the stated overhead %d MiB", peak>>20, budget>>20, budgetOverhead>>20)
	}
	if n := metricValue(metrics, `caddy_sidehook_passed_through_total{reason="memory_budget"}`); n == 0 {
		t.Errorf("no call passed through for the memory budget; metrics:\n%s", metrics)
	}
	if n := metricValue(metrics, `caddy_sidehook_events_queued_total`); n == 0 {
		t.Errorf("no event was queued: the budget let nothing be observed")
	}
	if n := metricValue(metrics, `caddy_sidehook_memory_budget_used_bytes`); n != 0 {
		t.Errorf("memory_budget_used_bytes = %v after every call ended, want 0", n)
	}
}

// budgetOverhead is what the process may hold besides the memory budget at this load: Caddy and Badger at rest,
// 200 connections with their buffers and the request bodies being read. The same traffic unobserved (no
// subscription matches) peaked at 87 MiB on the 2-core machine of 2026-12-02; the budget itself includes the
// Go heap's slack (see gcHeadroom in caddymodule/budget.go).
const budgetOverhead = 128 << 20

// peakRSSUnderLoad runs the binary with sidehook (a subscription to pattern, delivery paused, the given extra line) in
// front of an upstream whose every answer is a JSON-RPC result of answerSize bytes, makes one call from each of
// clients concurrent clients, checks every answer arrived whole, and returns the process's peak resident set
// (VmHWM) in bytes and its /metrics.
func peakRSSUnderLoad(t *testing.T, pattern, extra string, clients, answerSize int) (int64, string) {
	t.Helper()
	answer := []byte(`{"jsonrpc":"2.0","result":"` + strings.Repeat("r", answerSize) + `","id":1}`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
		_, _ = w.Write(answer)
	}))
	t.Cleanup(up.Close)
	home := t.TempDir()
	site, admin := freeAddr(t), freeAddr(t)
	p := startCaddy(t, home, testGlobals(admin, filepath.Join(home, "storage"))+fmt.Sprintf(`http://%s {
	sidehook {
		queue_dir %s
		%s
		subscribe %s http://127.0.0.1:9/hook {
			secret %s
		}
		delivery {
			paused
			allow_destination 127.0.0.1/32
		}
	}
	reverse_proxy %s
}
`, site, filepath.Join(home, "queue"), extra, pattern, crashSecret, strings.TrimPrefix(up.URL, "http://")), site)

	httpClient := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := httpClient.Post("http://"+site+"/", "application/json",
				strings.NewReader(fmt.Sprintf(`{"jsonrpc":"2.0","method":"BigService.get","params":["s",%d],"id":1}`, i)))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK || n != int64(len(answer)) {
				errs <- fmt.Errorf("call %d: status %d, %d of %d bytes, %v", i, resp.StatusCode, n, len(answer), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	hwm := procStatus(p.cmd.Process.Pid)["VmHWM"] << 10
	if hwm == 0 {
		t.Fatalf("no VmHWM for the sidehook process")
	}
	var metrics []byte
	waitFor(t, 10*time.Second, func() bool {
		resp, err := http.Get("http://" + admin + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		metrics, err = io.ReadAll(resp.Body)
		return err == nil && bytes.Contains(metrics, []byte("caddy_sidehook_calls_seen_total"))
	}, "the metrics")
	return hwm, string(metrics)
}

// metricValue reads one sample's value from a Prometheus text exposition (0 when absent).
func metricValue(exposition, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(exposition)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}
