package proxy

import (
	"errors"

	"github.com/tidwall/gjson"
)

// ErrNotJSONRPC is returned by Parse for every body VisitMethods rejects: the request then passes
// through untouched (docs/architecture.md#fail-open).
var ErrNotJSONRPC = errors.New("proxy: body is not a JSON-RPC request")

// Request is a parsed JSON-RPC HTTP body. Calls are the leaf calls (the ones that do work: a
// multicall or wrapper call is not a leaf, its inner calls are) in request order, depth first.
type Request struct {
	Batch bool
	Calls []Call

	// top holds every top-level element (calls and, in a batch, non-call elements) so results can be
	// paired, calls removed and answers merged without parsing again.
	top []*callNode
	// nodes counts every callNode so a Plan can keep per-node state in a slice.
	nodes int

	// oneTop, oneNode and oneCall back top, its node and Calls for a body that is one call object (the common
	// case), so that parsing it allocates the Request, the body's copy and what the call's fields copy.
	oneTop  [1]*callNode
	oneNode callNode
	oneCall [1]Call
}

// Call is one leaf call. Everything in it is copied from the body and stays valid after the body's
// buffer is released.
type Call struct {
	Method       string // full method
	Params       []byte // raw JSON params (OTYS inner call: its "args"; XML-RPC inner: its "params"); nil if absent
	ID           []byte // raw JSON id of the top-level call this leaf belongs to; nil for a notification
	Notification bool   // the top-level call has no id: no response will come, nothing can be paired
	Nested       bool   // inside a multicall or wrapper
}

// callNode is one call (or non-call batch element) in the request tree.
type callNode struct {
	kind     nestedKind
	ord      int    // position among all nodes, for Plan state
	raw      string // the call object exactly as in the body
	method   string
	shape    MulticallShape // kindMulticall only
	leaf     int            // index into Request.Calls for kindLeaf, else -1
	slot     string         // substring of raw: the multicall entry list or the wrapped request
	children []*callNode    // multicall entries, or the single wrapped request

	// top-level calls only
	id    string // raw JSON id
	hasID bool
}

// Parse returns the calls of a JSON-RPC body, or ErrNotJSONRPC for anything VisitMethods would
// reject. Batch elements that are not calls are skipped (the upstream answers them). A multicall
// whose params are not the declared shape is treated as a plain leaf call. When any call object
// (top level, batch element, multicall entry or wrapped request) repeats a key that identifies it,
// the whole body is ErrAmbiguousCall: nothing in it may be fired or answered locally.
func Parse(body []byte, n *Nesting) (*Request, error) {
	if !validJSON(body) {
		return nil, ErrNotJSONRPC
	}
	return parseValid(body, n)
}

// ParseVisited is Parse for a body VisitMethods has just accepted (returned true for), unchanged since: the
// request path always scans a body with VisitMethods first, which already checked its depth and its syntax,
// so validating it again would be a second full pass over the same bytes for nothing. Any other body must go
// through Parse: unvalidated input could nest deep enough to exhaust the stack.
func ParseVisited(body []byte, n *Nesting) (*Request, error) { return parseValid(body, n) }

// parseValid is Parse of a body known to be valid JSON no deeper than maxJSONDepth.
func parseValid(body []byte, n *Nesting) (*Request, error) {
	// One copy of the body: every node and call aliases it, so nothing depends on the caller's buffer.
	doc := gjson.Parse(string(body))
	p := &parser{nesting: n, req: &Request{}}
	switch {
	case doc.IsObject():
		if !isCallObject(doc, syntaxJSONRPC) {
			return nil, ErrNotJSONRPC
		}
		p.req.top, p.req.Calls = p.req.oneTop[:0], p.req.oneCall[:0]
		p.req.top = append(p.req.top, p.fillTop(&p.req.oneNode, doc))
	case doc.IsArray():
		p.req.Batch = true
		calls := 0
		doc.ForEach(func(_, el gjson.Result) bool {
			if !isCallObject(el, syntaxJSONRPC) {
				p.req.top = append(p.req.top, &callNode{kind: kindOther, ord: p.nextOrd(), raw: el.Raw, leaf: -1})
				return true
			}
			calls++
			p.req.top = append(p.req.top, p.fillTop(&callNode{}, el))
			return true
		})
		if calls == 0 {
			return nil, ErrNotJSONRPC
		}
	default:
		return nil, ErrNotJSONRPC
	}
	if p.ambiguous {
		return nil, ErrAmbiguousCall
	}
	p.req.nodes = p.ord
	return p.req, nil
}

type parser struct {
	nesting *Nesting
	req     *Request
	ord     int
	// ambiguous: some call object repeats an identifying key (see ErrAmbiguousCall).
	ambiguous bool
}

func (p *parser) nextOrd() int {
	p.ord++
	return p.ord - 1
}

// fillTop parses a top-level call object into top and returns it.
func (p *parser) fillTop(top *callNode, call gjson.Result) *callNode {
	id := call.Get("id")
	top.id, top.hasID = id.Raw, id.Exists()
	p.fill(top, call, syntaxJSONRPC, 0, top)
	return top
}

// fill parses one call object into nd, recursing into what it carries. Leaves are appended to
// req.Calls in depth-first order as they are met.
func (p *parser) fill(nd *callNode, call gjson.Result, syn callSyntax, depth int, top *callNode) {
	if repeatsIdentifyingKey(call) {
		p.ambiguous = true
	}
	nd.ord = p.nextOrd()
	nd.raw = call.Raw
	nd.leaf = -1
	nd.method = call.Get(syn.methodKey()).Str
	params := call.Get(syn.paramsKey())
	kind, shape, slot := p.nesting.classify(nd.method, params, depth)
	nd.kind = kind
	switch kind {
	case kindMulticall:
		nd.shape = shape
		nd.slot = slot.Raw
		slot.ForEach(func(_, entry gjson.Result) bool {
			child := &callNode{}
			p.fill(child, entry, shape.entrySyntax(), depth+1, top)
			nd.children = append(nd.children, child)
			return true
		})
	case kindWrapper:
		nd.slot = slot.Raw
		child := &callNode{}
		p.fill(child, slot, syntaxJSONRPC, depth+1, top)
		nd.children = []*callNode{child}
	default:
		nd.leaf = len(p.req.Calls)
		p.req.Calls = append(p.req.Calls, Call{
			Method:       nd.method,
			Params:       rawBytes(params),
			ID:           topID(top),
			Notification: !top.hasID,
			Nested:       depth > 0,
		})
	}
}

func topID(top *callNode) []byte {
	if !top.hasID {
		return nil
	}
	return []byte(top.id)
}

// rawBytes copies a value's raw JSON, nil when it is absent.
func rawBytes(v gjson.Result) []byte {
	if !v.Exists() || v.Raw == "" {
		return nil
	}
	return []byte(v.Raw)
}

// leaves calls fn for every leaf under nd, depth first.
func (nd *callNode) leaves(fn func(leaf int)) {
	if nd.kind == kindLeaf {
		fn(nd.leaf)
		return
	}
	for _, c := range nd.children {
		c.leaves(fn)
	}
}
