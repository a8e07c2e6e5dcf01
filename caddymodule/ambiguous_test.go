package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A call that repeats its method (sidehook reads the first, the upstream the last) fires nothing, is never
// answered locally even when one of its readings is a management call, reaches the upstream byte-identical
// with the client getting what it gets without sidehook, and is counted as passed through.
func TestDuplicatedMethodFiresNothingAndPassesThroughUntouched(t *testing.T) {
	up := &rawUpstream{seen: map[string]string{}}
	h := newHarness(t, harnessOptions{upstream: up})
	h.load(`
		management WebhooksService
		multicall MultiService.execute otys
		subscribe CandidateService.update {recv}/c {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	cases := map[string]string{
		"forged-update":       `{"jsonrpc":"2.0","method":"CandidateService.update","method":"echo","params":[1],"id":1}`,
		"forged-params":       `{"jsonrpc":"2.0","method":"CandidateService.update","params":["forged"],"params":["real"],"id":2}`,
		"management":          `{"jsonrpc":"2.0","method":"WebhooksService.getList","method":"echo","params":["s"],"id":3}`,
		"batch":               `[{"jsonrpc":"2.0","method":"WebhooksService.getList","params":["s"],"id":4},{"jsonrpc":"2.0","method":"CandidateService.update","method":"echo","id":5}]`,
		"multicall-entry":     `{"jsonrpc":"2.0","method":"MultiService.execute","params":[[{"method":"CandidateService.update","method":"echo","args":[]}]],"id":6}`,
		"multicall-with-mgmt": `{"jsonrpc":"2.0","method":"MultiService.execute","params":[[{"method":"WebhooksService.getList","args":["s"]},{"method":"CandidateService.update","args":[1],"args":[2]}]],"id":7}`,
	}
	send := func(port int, key, body string) string {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/rpc", port), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Case", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d ct=%q cl=%q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Length"), out)
	}
	for name, body := range cases {
		with, without := send(h.port, name+"/with", body), send(h.plainPort, name+"/without", body)
		if with != without {
			t.Errorf("%s: the client got a different response with sidehook:\n with:    %s\n without: %s", name, with, without)
		}
		a, b := up.get(name+"/with"), up.get(name+"/without")
		if a == "" || a != b || !strings.Contains(a, fmt.Sprintf("%q", body)) {
			t.Errorf("%s: the upstream did not get the request byte-identical:\n with:    %s\n without: %s", name, a, b)
		}
	}
	// The marker: the same call without the duplicate fires, and it is the only delivery.
	send(h.port, "marker", `{"jsonrpc":"2.0","method":"CandidateService.update","params":["marker"],"id":8}`)
	h.recv.waitCount(t, 1)
	h.settled(1)
	if got := h.recv.deliveries(); len(got) != 1 || !strings.Contains(string(got[0].Body), `"marker"`) {
		for _, d := range got {
			t.Logf("delivered: %s", d.Body)
		}
		t.Fatalf("want only the marker delivered, got %d deliveries", len(got))
	}
	if n := passedThrough(t, "ambiguous_json"); n != float64(len(cases)) {
		t.Errorf(`caddy_sidehook_passed_through_total{reason="ambiguous_json"} = %v, want %d`, n, len(cases))
	}
}

// passedThrough reads caddy_sidehook_passed_through_total for reason from the admin endpoint's /metrics.
func passedThrough(t *testing.T, reason string) float64 {
	t.Helper()
	v, found := metricSample(t, "caddy_sidehook_passed_through_total", reason)
	if !found {
		t.Fatalf("no passed_through_total{reason=%q} in /metrics", reason)
	}
	return v
}

// metricSample reads the sample of series with the given reason label from the admin endpoint's /metrics;
// found is false when the series has no such sample (a reason is exported once something was counted for it).
func metricSample(t *testing.T, series, reason string) (v float64, found bool) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://localhost:%d/metrics", adminPort))
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + `\{reason="` + regexp.QuoteMeta(reason) + `"\} (\S+)$`)
	m := re.FindSubmatch(body)
	if m == nil {
		return 0, false
	}
	if v, err = strconv.ParseFloat(string(m[1]), 64); err != nil {
		t.Fatal(err)
	}
	return v, true
}
