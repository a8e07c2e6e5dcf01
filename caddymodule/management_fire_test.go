package caddymodule_test

import (
	"testing"

	"github.com/tidwall/gjson"
)

// A call that fires from inside a MultiService.execute that also carries a management call is paired with the
// answer the client gets (the local answer merged with the upstream's), not with the upstream's answer alone:
// there the firing call's entry sits at another position, so the event would carry the wrong outcome.
func TestManagementMixedCallFiresWithTheMergedAnswer(t *testing.T) {
	h, _ := newMgHarness(t, 0)
	h.load(mgConfig + `
		subscribe CandidateService.update {recv}/cand {
			secret {secret}
		}`)
	sess := h.login()
	multi := mgCall(t, h.port, "Otys.Services.MultiService.execute", []any{
		map[string]any{"method": "Otys.Services.WebhooksService.getList", "args": []any{sess}},
		map[string]any{"method": mgUpdate, "args": []any{sess, "cand-1", map[string]any{"n": 1}}},
	})
	entries := mgResult(t, multi, "MultiService.execute").Array()
	if len(entries) != 2 || entries[0].Get("status").String() != "success" || entries[1].Get("status").String() != "success" {
		t.Fatalf("MultiService.execute answer: %s", multi.Raw)
	}
	d := h.recv.waitCount(t, 1)
	if d[0].Path != "/cand" {
		t.Fatalf("delivery to %s, want /cand", d[0].Path)
	}
	result := gjson.GetBytes(d[0].Body, "result")
	if result.Get("status").String() != "success" || result.Get("data").Raw != entries[1].Get("data").Raw {
		t.Fatalf("event result %s, want the client's entry %s", result.Raw, entries[1].Raw)
	}
}
