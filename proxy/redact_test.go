package proxy

import (
	"bytes"
	"testing"
	"time"
)

func TestRedactorEvent(t *testing.T) {
	cases := []struct {
		name       string
		rd         Redactor
		call       Call
		outcome    Outcome
		wantArgs   string
		wantResult string
		wantError  string
	}{
		{
			name:     "session param nulled",
			rd:       Redactor{SessionParam: 0},
			call:     Call{Method: "a.b", Params: []byte(`["SESSION-1", 5]`)},
			outcome:  Outcome{Found: true, OK: true, Result: []byte(`1`)},
			wantArgs: `[null, 5]`, wantResult: `1`,
		},
		{
			name:     "no session param, no params",
			rd:       Redactor{SessionParam: -1},
			call:     Call{Method: "a.b"},
			outcome:  Outcome{Found: true, Error: []byte(`{"code":1}`)},
			wantArgs: `null`, wantError: `{"code":1}`,
		},
		{
			name:       "keys at any depth, case-insensitive",
			rd:         Redactor{SessionParam: -1, Keys: DefaultRedactKeys()},
			call:       Call{Params: []byte(`[{"User":{"PassWord":"hunter2","list":[{"TOKEN":"tok-1","keep":1}]}}]`)},
			outcome:    Outcome{Found: true, OK: true, Result: []byte(`{"data":{"ApiKey":"k-9","n":2}}`)},
			wantArgs:   `[{"User":{"PassWord":null,"list":[{"TOKEN":null,"keep":1}]}}]`,
			wantResult: `{"data":{"ApiKey":null,"n":2}}`,
		},
		{
			name: "paths with # and on the result",
			rd: Redactor{SessionParam: -1, Paths: []string{
				"request.args.1.#.pin", "result.data.token", "error.data", "request.args.9.x", "request.method",
			}},
			call:       Call{Params: []byte(`["s",[{"pin":"1111","a":1},{"b":2},{"pin":"2222"}]]`)},
			outcome:    Outcome{Found: true, OK: true, Result: []byte(`{"status":"success","data":{"token":"t-7","id":3}}`)},
			wantArgs:   `["s",[{"pin":null,"a":1},{"b":2},{"pin":null}]]`,
			wantResult: `{"status":"success","data":{"token":null,"id":3}}`,
		},
		{
			name:      "error paths",
			rd:        Redactor{SessionParam: -1, Paths: []string{"error.data"}},
			call:      Call{Params: []byte(`[]`)},
			outcome:   Outcome{Found: true, Error: []byte(`{"code":1,"data":"secret stuff"}`)},
			wantArgs:  `[]`,
			wantError: `{"code":1,"data":null}`,
		},
		{
			name:       "session echoed in the result, alone or inside a longer string",
			rd:         Redactor{SessionParam: 0},
			call:       Call{Params: []byte(`["sess_0123456789", "x"]`)},
			outcome:    Outcome{Found: true, OK: true, Result: []byte(`{"status":"success","data":["sess_0123456789",{"auth":"Bearer sess_0123456789","n":"sess_"}]}`)},
			wantArgs:   `[null, "x"]`,
			wantResult: `{"status":"success","data":[null,{"auth":null,"n":"sess_"}]}`,
		},
		{
			name:      "session written with escapes in the error, or repeated in the args",
			rd:        Redactor{SessionParam: 1},
			call:      Call{Params: []byte(`["en","sess/42abcdef",{"again":"sess/42abcdef"}]`)},
			outcome:   Outcome{Found: true, Error: []byte(`{"code":1,"message":"bad session sess\/42abcdef","data":"\u0073ess/42abcdef"}`)},
			wantArgs:  `["en",null,{"again":null}]`,
			wantError: `{"code":1,"message":null,"data":null}`,
		},
		{
			name:       "an object keyed by the session goes as a whole",
			rd:         Redactor{SessionParam: 0},
			call:       Call{Params: []byte(`["sess_0123456789"]`)},
			outcome:    Outcome{Found: true, OK: true, Result: []byte(`{"byId":{"sess_0123456789":{"n":1}},"keep":2}`)},
			wantArgs:   `[null]`,
			wantResult: `{"byId":null,"keep":2}`,
		},
		{
			name:       "a short session is blanked only where a value equals it",
			rd:         Redactor{SessionParam: 0},
			call:       Call{Params: []byte(`["ab"]`)},
			outcome:    Outcome{Found: true, OK: true, Result: []byte(`["ab","abc"]`)},
			wantArgs:   `[null]`,
			wantResult: `[null,"abc"]`,
		},
		{
			name:     "outcome not found",
			rd:       Redactor{SessionParam: 0},
			call:     Call{Params: []byte(`["s"]`)},
			wantArgs: `[null]`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.rd.Event(tc.call, tc.outcome)
			if string(ev.Args) != tc.wantArgs {
				t.Errorf("Args = %s, want %s", ev.Args, tc.wantArgs)
			}
			if string(ev.Result) != tc.wantResult || (tc.wantResult == "") != (ev.Result == nil) {
				t.Errorf("Result = %q, want %q", ev.Result, tc.wantResult)
			}
			if string(ev.Error) != tc.wantError || (tc.wantError == "") != (ev.Error == nil) {
				t.Errorf("Error = %q, want %q", ev.Error, tc.wantError)
			}
		})
	}
}

// TestRedactedBytesNeverLeave follows secrets from a nested request through Parse, Outcomes, Event
// and both payload formats.
func TestRedactedBytesNeverLeave(t *testing.T) {
	secrets := []string{"SESSION-0xdeadbeef", "hunter2-pw", "tok-abcdef", "pin-4321"}
	body := `[{"jsonrpc":"2.0","method":"` + otysWrapper + `","params":["SESSION-0xdeadbeef",{"jsonrpc":"2.0","method":"` + otysMulti +
		`","params":[[{"method":"A.login","args":["SESSION-0xdeadbeef",{"Password":"hunter2-pw"}]},{"method":"B.y","args":["SESSION-0xdeadbeef",{"pins":[{"v":"pin-4321"}]}]}]],"id":1}],"id":1},` +
		`{"jsonrpc":"2.0","method":"C.z","params":["SESSION-0xdeadbeef"],"id":2}]`
	resp := `[{"jsonrpc":"2.0","id":2,"result":{"nested":{"TOKEN":"tok-abcdef"}}},` +
		`{"jsonrpc":"2.0","id":1,"result":[{"status":"success","data":{"authorization":"tok-abcdef"}},{"status":"error","message":"x","token":"tok-abcdef"}]}]`
	req, err := Parse([]byte(body), testNesting())
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Calls) != 3 {
		t.Fatalf("got %d calls, want 3", len(req.Calls))
	}
	rd := Redactor{SessionParam: 0, Keys: DefaultRedactKeys(), Paths: []string{"request.args.1.pins.#.v"}}
	env := Envelope{ID: "msg_1", Time: time.Unix(0, 0), WebhookUID: "w", WebhookURL: "https://h/", ClientID: "42", UserID: "7"}
	for i, o := range req.Outcomes([]byte(resp)) {
		if !o.Found {
			t.Fatalf("call %d: outcome not found", i)
		}
		ev := rd.Event(req.Calls[i], o)
		blobs := [][]byte{ev.Args, ev.Result, ev.Error, ev.ID, []byte(ev.Method), OTYSPayload(env, &ev), JSONRPCPayload(env, &ev)}
		for _, blob := range blobs {
			for _, s := range secrets {
				if bytes.Contains(blob, []byte(s)) {
					t.Errorf("call %d: %q leaks into %s", i, s, blob)
				}
			}
		}
		if !bytes.HasPrefix(ev.Args, []byte(`[null`)) {
			t.Errorf("call %d: session param not nulled: %s", i, ev.Args)
		}
	}
}

func TestRedactDeepValueIsBlanked(t *testing.T) {
	deep := `{"a":` + deepArray(maxRedactDepth+10) + `,"b":1}`
	got := redactKeys(deep, []string{"password"}, 0)
	if got == deep {
		// Nothing in it matched, but a value too deep to inspect must not be kept as is.
		t.Fatalf("deep value kept unchanged")
	}
}
