package proxy

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// FuzzParse feeds arbitrary bodies, masks and responses through the whole request-path API. Nothing
// may panic, VisitMethods and Parse must agree on what is JSON-RPC, and Split must send upstream
// exactly the calls the mask keeps, unchanged and in order.
func FuzzParse(f *testing.F) {
	responses := []string{
		``, `{"jsonrpc":"2.0","result":1,"id":1}`,
		`[{"jsonrpc":"2.0","result":"u3","id":3},{"jsonrpc":"2.0","result":"u1","id":1}]`,
		`{"jsonrpc":"2.0","result":[{"status":"success","data":"a"},{"status":"error","message":"m"}],"id":7}`,
		`{"jsonrpc":"2.0","result":[["gid"],{"faultCode":1,"faultString":"bad"}],"id":"q"}`,
		`{"jsonrpc":"2.0","result":{"jsonrpc":"2.0","result":[{"status":"success","data":1}],"id":99},"id":3}`,
	}
	for i, tc := range parseCases() {
		for _, mask := range []uint64{0, 0b10, 0b101, ^uint64(0)} {
			f.Add([]byte(tc.body), mask, []byte(responses[i%len(responses)]))
		}
	}
	// A session echoed back as a value, inside a longer string and as a key, through a wrapped multicall.
	f.Add([]byte(`{"jsonrpc":"2.0","method":"`+otysWrapper+`","params":["en",{"jsonrpc":"2.0","method":"`+otysMulti+
		`","params":[[{"method":"A.b","args":["sess_0123456789",{"password":"pw"}]},{"method":"C.d","args":["sess_0123456789"]}]]}],"id":1}`),
		uint64(0), []byte(`{"jsonrpc":"2.0","id":1,"result":[{"status":"success","data":["sess_0123456789","Bearer sess_0123456789"]},`+
			`{"status":"success","data":{"sess_0123456789":{"token":"t"}}}]}`))
	// Calls that repeat an identifying key, at every place a call can be.
	for _, body := range ambiguousBodies() {
		f.Add([]byte(body), uint64(0), []byte(responses[1]))
	}
	n := testNesting()
	f.Fuzz(func(t *testing.T, body []byte, mask uint64, resp []byte) {
		isRPC := VisitMethods(body, n, func(string) bool { return true })
		req, err := Parse(body, n)
		if errors.Is(err, ErrAmbiguousCall) {
			if !isRPC {
				t.Fatalf("Parse found an ambiguous call in a body VisitMethods says is not JSON-RPC: %s", body)
			}
			return
		}
		if (err == nil) != isRPC {
			t.Fatalf("VisitMethods says JSON-RPC=%v, Parse error %v", isRPC, err)
		}
		if isRPC {
			// The request path parses what VisitMethods accepted without validating it again: same outcome.
			visitedReq, visitedErr := ParseVisited(body, n)
			if (visitedErr == nil) != (err == nil) || (err == nil && !reflect.DeepEqual(visitedReq, req)) {
				t.Fatalf("ParseVisited = %+v, %v; Parse = %+v, %v", visitedReq, visitedErr, req, err)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrNotJSONRPC) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		visited := 0
		VisitMethods(body, n, func(string) bool { visited++; return true })
		if visited < len(req.Calls) {
			t.Fatalf("VisitMethods saw %d methods, Parse %d leaf calls", visited, len(req.Calls))
		}
		// Every event built from whatever the upstream said is valid JSON in both payloads, and the session
		// (params[0]) is gone from it whatever else the call and its outcome carry.
		rd := Redactor{SessionParam: 0, Keys: DefaultRedactKeys(), Paths: []string{"request.args.1.#.pin", "result.data.token"}}
		env := Envelope{ID: "msg_1", WebhookUID: "w", WebhookURL: "https://h/"}
		for i, o := range req.Outcomes(resp) {
			c := req.Calls[i]
			ev := rd.Event(c, o)
			for _, body := range [][]byte{OTYSPayload(env, &ev), JSONRPCPayload(env, &ev)} {
				if !gjson.ValidBytes(body) {
					t.Fatalf("call %d: payload is not JSON: %s", i, body)
				}
			}
			if sess := gjson.GetBytes(c.Params, "0"); sess.Type == gjson.String && len(sess.Str) >= minContainedSession &&
				strings.Contains(string(ev.Args)+string(ev.Result)+string(ev.Error), sess.Raw) {
				t.Fatalf("call %d: session %s survives in %s %s %s", i, sess.Raw, ev.Args, ev.Result, ev.Error)
			}
		}

		local := make([]bool, len(req.Calls))
		var kept []Call
		for i := range local {
			local[i] = mask&(1<<(uint(i)%64)) != 0
			if !local[i] {
				kept = append(kept, req.Calls[i])
			}
		}
		upstream, plan := req.Split(local)
		if upstream == nil {
			if len(kept) != 0 {
				t.Fatalf("upstream nil but %d calls kept", len(kept))
			}
		} else {
			again, err := Parse(upstream, n)
			if err != nil {
				t.Fatalf("upstream body %q does not parse: %v", upstream, err)
			}
			if len(again.Calls) != len(kept) {
				t.Fatalf("upstream has %d calls, want %d\nbody: %s\nupstream: %s", len(again.Calls), len(kept), body, upstream)
			}
			for i, c := range again.Calls {
				w := kept[i]
				if c.Method != w.Method || !bytes.Equal(c.Params, w.Params) || !bytes.Equal(c.ID, w.ID) {
					t.Fatalf("upstream call %d = %s %s, want %s %s", i, c.Method, c.Params, w.Method, w.Params)
				}
			}
		}
		answers := make([]Answer, len(req.Calls))
		for i := range answers {
			if i%2 == 0 {
				answers[i].Result = []byte(`{"ok":1}`)
			} else {
				answers[i].Code, answers[i].Message = -32001, "denied"
			}
		}
		var upResp []byte
		if upstream != nil {
			upResp = resp
		}
		_, _ = plan.Merge(upResp, answers)

		// With a well-behaved upstream, the merged answer pairs every call with the right outcome.
		if upstream != nil {
			again, err := Parse(upstream, n)
			if err != nil {
				t.Fatal(err)
			}
			upResp = []byte(fakeUpstreamResponse(again))
		}
		merged, err := plan.Merge(upResp, answers)
		if err != nil {
			t.Fatalf("merge with a well-behaved upstream: %v\nbody: %s\nupstream: %s\nresponse: %s", err, body, upstream, upResp)
		}
		if hasDuplicateIDs(req) {
			return // pairing by id is ambiguous
		}
		for i, o := range req.Outcomes(merged) {
			c := req.Calls[i]
			if c.Notification {
				continue
			}
			wantOK := !local[i] || answers[i].Result != nil
			if !o.Found || o.OK != wantOK {
				t.Fatalf("call %d (%s, local=%v): found=%v ok=%v, want found ok=%v\nbody: %s\nmerged: %s", i, c.Method, local[i], o.Found, o.OK, wantOK, body, merged)
			}
		}
	})
}

// fakeUpstreamResponse answers every call of req successfully, in the shape its nesting declares, and a
// batch in reverse order (the upstream may answer in any order).
func fakeUpstreamResponse(req *Request) string {
	var parts []string
	for _, top := range req.top {
		if top.kind == kindOther || !top.hasID {
			continue
		}
		parts = append(parts, `{"jsonrpc":"2.0","result":`+fakeValue(top)+`,"id":`+top.id+`}`)
	}
	if !req.Batch {
		if len(parts) == 0 {
			return ""
		}
		return parts[0]
	}
	slices.Reverse(parts)
	return "[" + strings.Join(parts, ",") + "]"
}

func fakeValue(nd *callNode) string {
	switch nd.kind {
	case kindMulticall:
		entries := make([]string, len(nd.children))
		for i, c := range nd.children {
			if nd.shape == MulticallXMLRPC {
				entries[i] = "[" + fakeValue(c) + "]"
			} else {
				entries[i] = `{"status":"success","data":` + fakeValue(c) + `}`
			}
		}
		return "[" + strings.Join(entries, ",") + "]"
	case kindWrapper:
		return `{"jsonrpc":"2.0","result":` + fakeValue(nd.children[0]) + `,"id":0}`
	}
	return jsonString("up:" + nd.method)
}

func hasDuplicateIDs(req *Request) bool {
	for i, a := range req.top {
		for _, b := range req.top[i+1:] {
			if a.hasID && b.hasID && sameID(gjson.Parse(a.id), gjson.Parse(b.id)) {
				return true
			}
		}
	}
	return false
}
