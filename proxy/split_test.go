package proxy

import (
	"errors"
	"testing"
)

const accessDenied = "Access denied; please login first"

func TestSplitMerge(t *testing.T) {
	n := testNesting()
	cand1 := `{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":["s",1],"id":1}`
	mgmt2 := `{"jsonrpc":"2.0","method":"Otys.Services.WebhooksService.getList","params":["s"],"id":2}`
	cand3 := `{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.get","params":["s",2],"id":3}`
	entryA := `{"method":"A.x","args":["s",1]}`
	entryM := `{"method":"Otys.Services.WebhooksService.add","args":["s",{}]}`
	entryC := `{"method":"C.z","args":["s",3]}`
	otys := func(entries string) string {
		return `{"jsonrpc":"2.0","method":"` + otysMulti + `","params":[[` + entries + `]],"id":7}`
	}
	wrapped := func(entries string) string {
		return `{"jsonrpc":"2.0","method":"` + otysWrapper + `","params":["en",` + otys(entries) + `],"id":4}`
	}
	cases := []struct {
		name         string
		req          string
		local        []bool
		answers      []Answer
		wantUpstream string // "" means nil
		upstreamResp string
		wantMerged   string // "" means nil
	}{
		{
			name:         "batch mixing management and upstream calls",
			req:          "[" + cand1 + ", " + mgmt2 + ",\n" + cand3 + "]",
			local:        []bool{false, true, false},
			answers:      []Answer{1: {Result: []byte(`[]`)}},
			wantUpstream: "[" + cand1 + "," + cand3 + "]",
			upstreamResp: `[{"jsonrpc":"2.0","result":"u3","id":3},{"jsonrpc":"2.0","result":"u1","id":1}]`,
			wantMerged:   `[{"jsonrpc":"2.0","result":"u1","id":1},{"jsonrpc":"2.0","result":[],"id":2},{"jsonrpc":"2.0","result":"u3","id":3}]`,
		},
		{
			name:         "otys multicall with a management entry in the middle",
			req:          otys(entryA + "," + entryM + "," + entryC),
			local:        []bool{false, true, false},
			answers:      []Answer{1: {Code: -32001, Message: accessDenied}},
			wantUpstream: otys(entryA + "," + entryC),
			upstreamResp: `{"jsonrpc":"2.0","result":[{"status":"success","data":"a"},{"status":"success","data":"c"}],"id":7}`,
			wantMerged:   `{"jsonrpc":"2.0","result":[{"status":"success","data":"a"},{"status":"error","message":"` + accessDenied + `"},{"status":"success","data":"c"}],"id":7}`,
		},
		{
			name:         "xmlrpc multicall with a management entry first",
			req:          `{"jsonrpc":"2.0","method":"system.multicall","params":[[{"methodName":"W.getList","params":["s"]},{"methodName":"m.b","params":[1]}]],"id":1}`,
			local:        []bool{true, false},
			answers:      []Answer{{Result: []byte(`[{"uid":"u"}]`)}},
			wantUpstream: `{"jsonrpc":"2.0","method":"system.multicall","params":[[{"methodName":"m.b","params":[1]}]],"id":1}`,
			upstreamResp: `{"jsonrpc":"2.0","result":[[true]],"id":1}`,
			wantMerged:   `{"jsonrpc":"2.0","result":[[[{"uid":"u"}]],[true]],"id":1}`,
		},
		{
			name:         "wrapped multicall, envelope result",
			req:          wrapped(entryA + "," + entryM),
			local:        []bool{false, true},
			answers:      []Answer{1: {Result: []byte(`"uid-1"`)}},
			wantUpstream: wrapped(entryA),
			upstreamResp: `{"jsonrpc":"2.0","result":{"jsonrpc":"2.0","result":[{"status":"success","data":"a"}],"id":7},"id":4}`,
			wantMerged:   `{"jsonrpc":"2.0","result":{"jsonrpc":"2.0","result":[{"status":"success","data":"a"},{"status":"success","data":"uid-1"}],"id":7},"id":4}`,
		},
		{
			name:         "nothing local",
			req:          cand1,
			local:        []bool{false},
			wantUpstream: cand1,
			upstreamResp: `{"jsonrpc":"2.0","result":1,"id":1}`,
			wantMerged:   `{"jsonrpc":"2.0","result":1,"id":1}`,
		},
		{
			name:       "single management call",
			req:        mgmt2,
			local:      []bool{true},
			answers:    []Answer{{Result: []byte(`true`)}},
			wantMerged: `{"jsonrpc":"2.0","result":true,"id":2}`,
		},
		{
			name:       "single management notification",
			req:        `{"jsonrpc":"2.0","method":"W.delete","params":["s","u"]}`,
			local:      []bool{true},
			answers:    []Answer{{Result: []byte(`true`)}},
			wantMerged: "",
		},
		{
			name:       "batch of only management calls and a non-call",
			req:        "[" + mgmt2 + ",42]",
			local:      []bool{true},
			answers:    []Answer{{Code: -32001, Message: accessDenied}},
			wantMerged: `[{"jsonrpc":"2.0","error":{"code":-32001,"message":"` + accessDenied + `"},"id":2},` + invalidRequestError + `]`,
		},
		{
			name:       "multicall of only management calls",
			req:        otys(entryM + "," + entryM),
			local:      []bool{true, true},
			answers:    []Answer{{Result: []byte(`"u1"`)}, {Code: -32602, Message: `bad "webhookUrl"`}},
			wantMerged: `{"jsonrpc":"2.0","result":[{"status":"success","data":"u1"},{"status":"error","message":"bad \"webhookUrl\""}],"id":7}`,
		},
		{
			name:         "batch whose multicall is all local is removed from the upstream body",
			req:          "[" + otys(entryM) + "," + cand3 + "]",
			local:        []bool{true, false},
			answers:      []Answer{{Result: []byte(`1`)}},
			wantUpstream: "[" + cand3 + "]",
			upstreamResp: `[{"jsonrpc":"2.0","result":"u3","id":3}]`,
			wantMerged:   `[{"jsonrpc":"2.0","result":[{"status":"success","data":1}],"id":7},{"jsonrpc":"2.0","result":"u3","id":3}]`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := Parse([]byte(tc.req), n)
			if err != nil {
				t.Fatal(err)
			}
			upstream, plan := req.Split(tc.local)
			if tc.wantUpstream == "" && upstream != nil {
				t.Fatalf("upstream = %s, want nil", upstream)
			}
			if tc.wantUpstream != "" && string(upstream) != tc.wantUpstream {
				t.Fatalf("upstream =\n%s\nwant\n%s", upstream, tc.wantUpstream)
			}
			var upResp []byte
			if upstream != nil {
				upResp = []byte(tc.upstreamResp)
			}
			answers := tc.answers
			if len(answers) < len(req.Calls) {
				answers = append(answers, make([]Answer, len(req.Calls)-len(answers))...)
			}
			merged, err := plan.Merge(upResp, answers)
			if err != nil {
				t.Fatal(err)
			}
			if string(merged) != tc.wantMerged {
				t.Fatalf("merged =\n%s\nwant\n%s", merged, tc.wantMerged)
			}
			if merged == nil {
				return
			}
			// The merged answer pairs with the original request like an upstream answer would.
			for i, o := range req.Outcomes(merged) {
				if !o.Found && !req.Calls[i].Notification {
					t.Errorf("call %d (%s) not found in merged response", i, req.Calls[i].Method)
				}
			}
		})
	}
}

func TestMergeRefusesWhatItCannotMerge(t *testing.T) {
	n := testNesting()
	req, err := Parse([]byte(`{"jsonrpc":"2.0","method":"`+otysMulti+`","params":[[{"method":"A.x","args":[]},{"method":"W.add","args":[]}]],"id":7}`), n)
	if err != nil {
		t.Fatal(err)
	}
	_, plan := req.Split([]bool{false, true})
	answers := []Answer{{}, {Result: []byte(`1`)}}
	for _, resp := range []string{
		`not json`,
		`{"jsonrpc":"2.0","error":{"code":1,"message":"x"},"id":7}`,
		`{"jsonrpc":"2.0","result":{"a":1},"id":7}`,
		`{"jsonrpc":"2.0","result":[1,2,3],"id":7}`,
		`[{"jsonrpc":"2.0","result":[1],"id":7}]`,
	} {
		if _, err := plan.Merge([]byte(resp), answers); !errors.Is(err, errNoMerge) {
			t.Errorf("Merge(%s) error = %v, want errNoMerge", resp, err)
		}
	}
}
