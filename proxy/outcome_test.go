package proxy

import (
	"slices"
	"testing"
)

// wantOutcome is an Outcome written as strings.
type wantOutcome struct {
	found, ok     bool
	result, error string
}

func TestOutcomes(t *testing.T) {
	n := testNesting()
	wrapped := `{"jsonrpc":"2.0","method":"` + otysWrapper + `","params":["en",{"jsonrpc":"2.0","method":"` + otysMulti + `","params":[[{"method":"A.x","args":[1]},{"method":"B.y","args":[2]}]],"id":99}],"id":3}`
	otys := `{"jsonrpc":"2.0","method":"` + otysMulti + `","params":[[{"method":"A.x","args":[1]},{"method":"B.y","args":[2]}]],"id":7}`
	xml := `{"jsonrpc":"2.0","method":"system.multicall","params":[[{"methodName":"m.a","params":[]},{"methodName":"m.b","params":[]}]],"id":1}`
	cases := []struct {
		name string
		req  string
		resp string
		want []wantOutcome
	}{
		{
			name: "batch answered in shuffled order, ids as JSON values",
			req:  `[{"jsonrpc":"2.0","method":"a","id":1},{"jsonrpc":"2.0","method":"b","id":"1"},{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","method":"c","id":3}]`,
			resp: `[{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"m"}},{"jsonrpc":"2.0","id":"1","result":"b"},{"jsonrpc":"2.0","id":1.0,"result":{"a":true}}]`,
			want: []wantOutcome{
				{found: true, ok: true, result: `{"a":true}`},
				{found: true, ok: true, result: `"b"`},
				{},
				{found: true, error: `{"code":1,"message":"m"}`},
			},
		},
		{
			name: "big integer ids are not rounded together",
			req:  `[{"jsonrpc":"2.0","method":"a","id":9007199254740993},{"jsonrpc":"2.0","method":"b","id":9007199254740992}]`,
			resp: `[{"jsonrpc":"2.0","id":9007199254740992,"result":"b"},{"jsonrpc":"2.0","id":9007199254740993,"result":"a"}]`,
			want: []wantOutcome{{found: true, ok: true, result: `"a"`}, {found: true, ok: true, result: `"b"`}},
		},
		{
			name: "single call",
			req:  `{"jsonrpc":"2.0","method":"a","id":1}`,
			resp: `{"jsonrpc":"2.0","result":[1,2],"id":1}`,
			want: []wantOutcome{{found: true, ok: true, result: `[1,2]`}},
		},
		{
			name: "otys multicall with one failure",
			req:  otys,
			resp: `{"jsonrpc":"2.0","result":[{"status":"success","data":{"x":1}},{"status":"error","message":"nope"}],"id":7}`,
			want: []wantOutcome{
				{found: true, ok: true, result: `{"status":"success","data":{"x":1}}`},
				{found: true, error: `{"status":"error","message":"nope"}`},
			},
		},
		{
			name: "xmlrpc multicall with one fault",
			req:  xml,
			resp: `{"jsonrpc":"2.0","result":[["gid"],{"faultCode":1,"faultString":"bad"}],"id":1}`,
			want: []wantOutcome{
				{found: true, ok: true, result: `["gid"]`},
				{found: true, error: `{"faultCode":1,"faultString":"bad"}`},
			},
		},
		{
			name: "multicall result shorter than the calls",
			req:  xml,
			resp: `{"jsonrpc":"2.0","result":[["gid"]],"id":1}`,
			want: []wantOutcome{{found: true, ok: true, result: `["gid"]`}, {}},
		},
		{
			name: "multicall failed as a whole",
			req:  otys,
			resp: `{"jsonrpc":"2.0","error":{"code":-32000,"message":"down"},"id":7}`,
			want: []wantOutcome{
				{found: true, error: `{"code":-32000,"message":"down"}`},
				{found: true, error: `{"code":-32000,"message":"down"}`},
			},
		},
		{
			name: "wrapper result is an envelope",
			req:  wrapped,
			resp: `{"jsonrpc":"2.0","result":{"jsonrpc":"2.0","result":[{"status":"success","data":1},{"status":"success","data":2}],"id":99},"id":3}`,
			want: []wantOutcome{
				{found: true, ok: true, result: `{"status":"success","data":1}`},
				{found: true, ok: true, result: `{"status":"success","data":2}`},
			},
		},
		{
			name: "wrapper result is direct",
			req:  wrapped,
			resp: `{"jsonrpc":"2.0","result":[{"status":"success","data":1},{"status":"error","message":"x"}],"id":3}`,
			want: []wantOutcome{
				{found: true, ok: true, result: `{"status":"success","data":1}`},
				{found: true, error: `{"status":"error","message":"x"}`},
			},
		},
		{
			name: "wrapper envelope carries an error",
			req:  wrapped,
			resp: `{"jsonrpc":"2.0","result":{"id":99,"error":{"code":5,"message":"no"}},"id":3}`,
			want: []wantOutcome{
				{found: true, error: `{"code":5,"message":"no"}`},
				{found: true, error: `{"code":5,"message":"no"}`},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := Parse([]byte(tc.req), n)
			if err != nil {
				t.Fatal(err)
			}
			assertOutcomes(t, req.Outcomes([]byte(tc.resp)), tc.want)
		})
	}
}

func assertOutcomes(t *testing.T, got []Outcome, want []wantOutcome) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d outcomes, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Found != w.found || g.OK != w.ok || string(g.Result) != w.result || string(g.Error) != w.error {
			t.Errorf("outcome %d = {found=%v ok=%v result=%s error=%s}, want %+v", i, g.Found, g.OK, g.Result, g.Error, w)
		}
	}
}

func TestOutcomesOfGarbage(t *testing.T) {
	n := testNesting()
	garbage := []string{"", "nope", `[1,2]`, `{"result":`, `{"id":1}`, `null`, `[{"id":1,"result":}]`, deepArray(1000)}
	// Well-formed responses whose result is not the shape of any multicall or wrapper.
	badForNested := []string{`{"jsonrpc":"2.0","result":{"status":"success"},"id":7}`, `{"jsonrpc":"2.0","result":[1,"x",null],"id":7}`}
	for _, tc := range parseCases() {
		if tc.notRPC {
			continue
		}
		req, err := Parse([]byte(tc.body), n)
		if err != nil {
			t.Fatal(err)
		}
		for _, resp := range append(garbage, badForNested...) {
			for i, o := range req.Outcomes([]byte(resp)) {
				if o.OK && (req.Calls[i].Nested || slices.Contains(garbage, resp)) {
					t.Errorf("%s: response %.30q: call %d paired as a success", tc.name, resp, i)
				}
			}
		}
	}
}
