package proxy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Answer is a locally produced answer for one leaf call (a management call, docs/payloads.md#the-management-api).
type Answer struct {
	Result  []byte // raw JSON result, or
	Code    int    // a JSON-RPC error when Result == nil
	Message string
}

// Plan remembers how a request was split so the upstream's answer and the local answers can be put
// back together in the client's original shape.
type Plan struct {
	req   *Request
	state []nodeState // indexed by callNode.ord
}

// nodeState is where a call goes once the local leaves are taken out.
type nodeState uint8

const (
	stateUpstream nodeState = iota // untouched: sent upstream as it was
	stateLocal                     // every leaf under it is answered locally: not sent
	stateMixed                     // sent upstream with some inner calls taken out
)

// errNoMerge reports an upstream response that cannot carry the local answers back; the caller
// then sends the upstream response as it is.
var errNoMerge = errors.New("proxy: upstream response cannot be merged with local answers")

// invalidRequestError is what JSON-RPC 2.0 prescribes for a batch element that is not a call. Merge
// uses it only when no call went upstream, so the client still gets an answer for every element.
const invalidRequestError = `{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}`

// Split removes the leaf calls with local[i]==true (indexed like r.Calls) from the request. upstream is
// the body to send upstream, nil when nothing is left for the upstream (a single management call, a
// batch of only management calls, a multicall made only of management calls: a multicall whose inner
// calls are all removed is itself removed). What remains keeps its bytes; only whitespace between
// rebuilt batch or multicall elements may differ. Missing mask entries count as false.
func (r *Request) Split(local []bool) (upstream []byte, plan *Plan) {
	p := &Plan{req: r, state: make([]nodeState, r.nodes)}
	if len(r.top) == 0 {
		// A Request that did not come from Parse carries no calls: nothing to send.
		return nil, p
	}
	for _, top := range r.top {
		p.mark(top, local)
	}
	if !r.Batch {
		top := r.top[0]
		if p.state[top.ord] == stateLocal {
			return nil, p
		}
		return []byte(p.rebuild(top)), p
	}
	var b strings.Builder
	b.WriteByte('[')
	first, anyCall := true, false
	for _, top := range r.top {
		if p.state[top.ord] == stateLocal {
			continue
		}
		if top.kind != kindOther {
			anyCall = true
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(p.rebuild(top))
	}
	if !anyCall {
		return nil, p
	}
	b.WriteByte(']')
	return []byte(b.String()), p
}

// mark computes the state of nd and everything under it.
func (p *Plan) mark(nd *callNode, local []bool) nodeState {
	var st nodeState
	switch nd.kind {
	case kindOther:
		st = stateUpstream
	case kindLeaf:
		st = stateUpstream
		if nd.leaf < len(local) && local[nd.leaf] {
			st = stateLocal
		}
	default:
		sawLocal, sawUpstream := false, false
		for _, c := range nd.children {
			switch p.mark(c, local) {
			case stateLocal:
				sawLocal = true
			case stateMixed:
				sawLocal, sawUpstream = true, true
			default:
				sawUpstream = true
			}
		}
		switch {
		case !sawLocal:
			st = stateUpstream
		case !sawUpstream:
			st = stateLocal
		default:
			st = stateMixed
		}
	}
	p.state[nd.ord] = st
	return st
}

// rebuild returns the call as it goes upstream: its original bytes, with the local inner calls taken
// out of a multicall list or a wrapped request.
func (p *Plan) rebuild(nd *callNode) string {
	if p.state[nd.ord] != stateMixed {
		return nd.raw
	}
	var repl string
	switch nd.kind {
	case kindMulticall:
		var b strings.Builder
		b.WriteByte('[')
		first := true
		for _, c := range nd.children {
			if p.state[c.ord] == stateLocal {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(p.rebuild(c))
		}
		b.WriteByte(']')
		repl = b.String()
	case kindWrapper:
		repl = p.rebuild(nd.children[0])
	default:
		return nd.raw
	}
	out, ok := splice(nd.raw, nd.slot, repl)
	if !ok {
		// Cannot happen: slot is always a substring of raw. Sending the original is the safe side.
		return nd.raw
	}
	return out
}

// Merge builds the client's response from the upstream response (nil when nothing went upstream) and
// the local answers (indexed like r.Calls; only local ones are used), in the original request order:
// in a batch, response objects in request order; in a multicall, entries of the declared shape at
// their original positions; a single call as a response object with its id. Notifications get no
// answer: when nothing at all is to be answered, Merge returns (nil, nil). An error means the
// upstream response cannot be merged (not JSON, an error instead of the multicall array…): the
// caller then sends the upstream response as it is.
func (p *Plan) Merge(upstreamResp []byte, answers []Answer) ([]byte, error) {
	if p.req.Batch {
		return p.mergeBatch(upstreamResp, answers)
	}
	if len(p.req.top) == 0 {
		return upstreamResp, nil
	}
	top := p.req.top[0]
	switch p.state[top.ord] {
	case stateLocal:
		if !top.hasID {
			return nil, nil
		}
		return []byte(renderResponse(p.local(top, answers), top.id)), nil
	case stateUpstream:
		return upstreamResp, nil
	}
	if !top.hasID {
		return upstreamResp, nil
	}
	if !validJSON(upstreamResp) {
		return nil, fmt.Errorf("merging into a single call: %w: not JSON", errNoMerge)
	}
	resp := gjson.Parse(string(upstreamResp))
	merged, err := p.mergeResponse(top, resp, answers)
	if err != nil {
		return nil, err
	}
	return []byte(merged), nil
}

func (p *Plan) mergeBatch(upstreamResp []byte, answers []Answer) ([]byte, error) {
	var responses []gjson.Result
	upstreamCalled := false
	for _, top := range p.req.top {
		if top.kind != kindOther && p.state[top.ord] != stateLocal {
			upstreamCalled = true
			break
		}
	}
	if upstreamCalled && len(strings.TrimSpace(string(upstreamResp))) > 0 {
		if !validJSON(upstreamResp) {
			return nil, fmt.Errorf("merging into a batch: %w: not JSON", errNoMerge)
		}
		doc := gjson.Parse(string(upstreamResp))
		if !doc.IsArray() {
			return nil, fmt.Errorf("merging into a batch: %w: not an array", errNoMerge)
		}
		responses = doc.Array()
	}
	used := make([]bool, len(responses))
	var parts []string
	for _, top := range p.req.top {
		switch {
		case top.kind == kindOther:
			if !upstreamCalled {
				parts = append(parts, invalidRequestError)
			}
		case !top.hasID:
			// A notification: nobody waits for an answer.
		case p.state[top.ord] == stateLocal:
			parts = append(parts, renderResponse(p.local(top, answers), top.id))
		default:
			i := findResponse(responses, used, top.id)
			if i < 0 {
				continue
			}
			used[i] = true
			if p.state[top.ord] == stateUpstream {
				parts = append(parts, responses[i].Raw)
				continue
			}
			merged, err := p.mergeResponse(top, responses[i], answers)
			if err != nil {
				return nil, err
			}
			parts = append(parts, merged)
		}
	}
	// Responses the request cannot claim (errors for invalid elements, id null) still reach the client.
	for i, resp := range responses {
		if !used[i] {
			parts = append(parts, resp.Raw)
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	return []byte("[" + strings.Join(parts, ",") + "]"), nil
}

// mergeResponse puts local answers into the result of a response object for a mixed top-level call.
func (p *Plan) mergeResponse(top *callNode, resp gjson.Result, answers []Answer) (string, error) {
	if !resp.IsObject() {
		return "", fmt.Errorf("call %q: %w: response is not an object", top.method, errNoMerge)
	}
	raw := resp.Raw
	result := gjson.Get(raw, "result")
	if !result.Exists() {
		return "", fmt.Errorf("call %q: %w: response has no result", top.method, errNoMerge)
	}
	merged, err := p.mergeValue(top, result, answers)
	if err != nil {
		return "", err
	}
	return spliceOrFail(raw, result.Raw, merged, top.method)
}

// mergeValue returns the upstream value of a mixed call with the local answers put back.
func (p *Plan) mergeValue(nd *callNode, v gjson.Result, answers []Answer) (string, error) {
	switch nd.kind {
	case kindMulticall:
		if !v.IsArray() {
			return "", fmt.Errorf("multicall %q: %w: result is not an array", nd.method, errNoMerge)
		}
		entries := v.Array()
		kept := 0
		for _, c := range nd.children {
			if p.state[c.ord] != stateLocal {
				kept++
			}
		}
		if len(entries) != kept {
			return "", fmt.Errorf("multicall %q: %w: %d results for %d calls", nd.method, errNoMerge, len(entries), kept)
		}
		parts := make([]string, 0, len(nd.children))
		j := 0
		for _, c := range nd.children {
			switch p.state[c.ord] {
			case stateLocal:
				parts = append(parts, renderEntry(nd.shape, p.local(c, answers)))
				continue
			case stateMixed:
				merged, err := p.mergeEntry(c, nd.shape, entries[j], answers)
				if err != nil {
					return "", err
				}
				parts = append(parts, merged)
			default:
				parts = append(parts, entries[j].Raw)
			}
			j++
		}
		return "[" + strings.Join(parts, ",") + "]", nil
	case kindWrapper:
		inner := nd.children[0]
		if !isResponseEnvelope(v) {
			return p.mergeValue(inner, v, answers)
		}
		raw := v.Raw
		result := gjson.Get(raw, "result")
		if !result.Exists() {
			return "", fmt.Errorf("wrapper %q: %w: inner call failed", nd.method, errNoMerge)
		}
		merged, err := p.mergeValue(inner, result, answers)
		if err != nil {
			return "", err
		}
		return spliceOrFail(raw, result.Raw, merged, nd.method)
	}
	return v.Raw, nil
}

// mergeEntry merges into the successful entry of a mixed container inside a multicall.
func (p *Plan) mergeEntry(nd *callNode, shape MulticallShape, e gjson.Result, answers []Answer) (string, error) {
	raw := e.Raw
	var payload gjson.Result
	switch {
	case shape == MulticallOTYS && e.IsObject() && gjson.Get(raw, "status").Str == "success":
		payload = gjson.Get(raw, "data")
	case shape == MulticallXMLRPC && e.IsArray():
		payload = gjson.Get(raw, "0")
	default:
		return "", fmt.Errorf("inner call %q: %w: it failed upstream", nd.method, errNoMerge)
	}
	if !payload.Exists() {
		return "", fmt.Errorf("inner call %q: %w: entry carries no result", nd.method, errNoMerge)
	}
	merged, err := p.mergeValue(nd, payload, answers)
	if err != nil {
		return "", err
	}
	return spliceOrFail(raw, payload.Raw, merged, nd.method)
}

func spliceOrFail(parent, sub, repl, method string) (string, error) {
	out, ok := splice(parent, sub, repl)
	if !ok {
		return "", fmt.Errorf("call %q: %w: result not found in response", method, errNoMerge)
	}
	return out, nil
}

// localOutcome is the answer to a fully local call: a raw result, or a JSON-RPC error.
type localOutcome struct {
	ok      bool
	result  string
	code    int
	message string
}

// local builds the answer of a call whose every leaf is answered locally: a leaf's Answer, a
// multicall's entries in its shape, a wrapper's inner answer as is.
func (p *Plan) local(nd *callNode, answers []Answer) localOutcome {
	switch nd.kind {
	case kindMulticall:
		parts := make([]string, len(nd.children))
		for i, c := range nd.children {
			parts[i] = renderEntry(nd.shape, p.local(c, answers))
		}
		return localOutcome{ok: true, result: "[" + strings.Join(parts, ",") + "]"}
	case kindWrapper:
		return p.local(nd.children[0], answers)
	}
	if nd.leaf < 0 || nd.leaf >= len(answers) {
		return localOutcome{code: -32603, message: "Internal error: no local answer"}
	}
	a := answers[nd.leaf]
	if a.Result == nil {
		return localOutcome{code: a.Code, message: a.Message}
	}
	if !validJSON(a.Result) {
		return localOutcome{code: -32603, message: "Internal error: invalid local result"}
	}
	return localOutcome{ok: true, result: strings.TrimSpace(string(a.Result))}
}

func renderResponse(o localOutcome, id string) string {
	if o.ok {
		return `{"jsonrpc":"2.0","result":` + o.result + `,"id":` + id + `}`
	}
	return `{"jsonrpc":"2.0","error":{"code":` + strconv.Itoa(o.code) + `,"message":` + jsonString(o.message) + `},"id":` + id + `}`
}

func renderEntry(shape MulticallShape, o localOutcome) string {
	if shape == MulticallXMLRPC {
		if o.ok {
			return "[" + o.result + "]"
		}
		return `{"faultCode":` + strconv.Itoa(o.code) + `,"faultString":` + jsonString(o.message) + `}`
	}
	if o.ok {
		return `{"status":"success","data":` + o.result + `}`
	}
	return `{"status":"error","message":` + jsonString(o.message) + `}`
}

// jsonString encodes s as a JSON string.
func jsonString(s string) string {
	return string(gjson.AppendJSONString(nil, s))
}
