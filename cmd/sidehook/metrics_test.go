package main

import (
	"io"
	"regexp"
	"strconv"
)

// dropped reads caddy_sidehook_events_dropped_total{reason} from Caddy's /metrics (0 when absent).
func (w *hookWorld) dropped(reason string) int {
	w.t.Helper()
	resp, err := client.Get("http://" + w.admin + "/metrics")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	series := regexp.MustCompile(`(?m)^caddy_sidehook_events_dropped_total\{reason="` + regexp.QuoteMeta(reason) + `"\} (\S+)$`)
	m := series.FindSubmatch(text)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		w.t.Fatal(err)
	}
	return int(v)
}
