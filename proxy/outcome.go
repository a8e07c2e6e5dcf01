package proxy

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Outcome is what the response says about one leaf call.
type Outcome struct {
	Found  bool   // a result or error for this call was located
	OK     bool   // success: JSON-RPC result present (multicall entries: OTYS status=="success", XML-RPC entry is an array)
	Result []byte // raw JSON: the "result" value; for a multicall inner call its own entry
	Error  []byte // raw JSON: the "error" object, or the failed entry
}

// Outcomes pairs the response body with r.Calls (same length and order). Batches pair by id (ids
// compared as JSON values: 1 == 1.0, "1" != 1; the upstream may answer a batch in any order), single
// calls with the single response object, multicall inner calls by position in the result array, a
// wrapper's inner call(s) with the wrapper's result: a JSON-RPC response envelope is unwrapped, any
// other value is the inner call's result directly. Anything not locatable: Found=false. Never panics.
func (r *Request) Outcomes(resp []byte) []Outcome {
	out := make([]Outcome, len(r.Calls))
	if !validJSON(resp) {
		return out
	}
	p := pairer{out: out}
	// resp is read in place: every value kept in out is copied from it (pairer), so nothing here outlives it.
	doc := gjson.Parse(bytesView(resp))
	if !r.Batch {
		if len(r.top) == 1 && r.top[0].hasID && doc.IsObject() {
			p.response(r.top[0], doc)
		}
		return out
	}
	if !doc.IsArray() {
		return out
	}
	responses := doc.Array()
	used := make([]bool, len(responses))
	for _, top := range r.top {
		if top.kind == kindOther || !top.hasID {
			continue
		}
		if i := findResponse(responses, used, top.id); i >= 0 {
			used[i] = true
			p.response(top, responses[i])
		}
	}
	return out
}

// findResponse returns the first unused response object whose id equals id, or -1.
func findResponse(responses []gjson.Result, used []bool, id string) int {
	want := gjson.Parse(id)
	for i, resp := range responses {
		if used[i] || !resp.IsObject() {
			continue
		}
		if sameID(want, resp.Get("id")) {
			return i
		}
	}
	return -1
}

// sameID compares two ids as JSON values: numbers numerically (1 == 1.0), strings by their decoded
// text, never a string with a number.
func sameID(a, b gjson.Result) bool {
	if !a.Exists() || !b.Exists() || a.Type != b.Type {
		return false
	}
	switch a.Type {
	case gjson.String:
		return a.Str == b.Str
	case gjson.Number:
		if a.Raw == b.Raw {
			return true
		}
		if isIntegerLiteral(a.Raw) && isIntegerLiteral(b.Raw) {
			// Distinct integer literals are distinct values, even where float64 would round them
			// together (ids beyond 2^53 are common as snowflakes).
			return false
		}
		x, errA := strconv.ParseFloat(a.Raw, 64)
		y, errB := strconv.ParseFloat(b.Raw, 64)
		return errA == nil && errB == nil && x == y
	default:
		return a.Raw == b.Raw
	}
}

// pairer writes outcomes while walking the request tree alongside the response.
type pairer struct {
	out []Outcome
}

// response pairs a top-level call with its response object.
func (p *pairer) response(top *callNode, resp gjson.Result) {
	if res := resp.Get("result"); res.Exists() {
		p.value(top, res)
		return
	}
	if e := resp.Get("error"); e.Exists() {
		p.failAll(top, e.Raw)
	}
}

// value hands a successful result value to a call: a leaf takes it, a multicall splits it by position,
// a wrapper unwraps an envelope if there is one.
func (p *pairer) value(nd *callNode, v gjson.Result) {
	switch nd.kind {
	case kindLeaf:
		p.out[nd.leaf] = Outcome{Found: true, OK: true, Result: []byte(v.Raw)}
	case kindMulticall:
		if !v.IsArray() {
			return
		}
		entries := v.Array()
		for i, child := range nd.children {
			if i >= len(entries) {
				return
			}
			p.entry(child, nd.shape, entries[i])
		}
	case kindWrapper:
		inner := nd.children[0]
		if !isResponseEnvelope(v) {
			p.value(inner, v)
			return
		}
		if res := v.Get("result"); res.Exists() {
			p.value(inner, res)
			return
		}
		p.failAll(inner, v.Get("error").Raw)
	}
}

// entry pairs one inner call of a multicall with its entry in the result array. A leaf's Result is the
// whole entry (docs/payloads.md#payload-otys); a nested container gets the entry's payload.
func (p *pairer) entry(nd *callNode, shape MulticallShape, e gjson.Result) {
	var ok bool
	var payload gjson.Result
	switch shape {
	case MulticallOTYS:
		if !e.IsObject() {
			return
		}
		ok = e.Get("status").Str == "success"
		payload = e.Get("data")
	case MulticallXMLRPC:
		switch {
		case e.IsArray():
			ok = true
			payload, _ = arrayElement(e, 0)
		case e.IsObject():
			ok = false
		default:
			return
		}
	default:
		return
	}
	if !ok {
		p.failAll(nd, e.Raw)
		return
	}
	if nd.kind == kindLeaf {
		p.out[nd.leaf] = Outcome{Found: true, OK: true, Result: []byte(e.Raw)}
		return
	}
	p.value(nd, payload)
}

// failAll marks every leaf under nd as failed with the given error: when a container call fails,
// each call it carried failed with it.
func (p *pairer) failAll(nd *callNode, errRaw string) {
	nd.leaves(func(leaf int) {
		p.out[leaf] = Outcome{Found: true, Error: []byte(errRaw)}
	})
}

// isResponseEnvelope reports whether v looks like a JSON-RPC response object rather than a plain
// result: an object with "result" or "error" plus "jsonrpc" or "id".
func isResponseEnvelope(v gjson.Result) bool {
	if !v.IsObject() {
		return false
	}
	hasBody := v.Get("result").Exists() || v.Get("error").Exists()
	hasMark := v.Get("jsonrpc").Exists() || v.Get("id").Exists()
	return hasBody && hasMark
}

// isIntegerLiteral reports a JSON number without fraction or exponent.
func isIntegerLiteral(raw string) bool {
	return !strings.ContainsAny(raw, ".eE")
}
