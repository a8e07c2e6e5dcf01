package proxy

import (
	"unsafe"

	"github.com/tidwall/gjson"
)

// VisitMethods calls fn with the method of every call the body carries, nested calls included (batch
// elements, multicall methods and their inner calls, wrapper methods and their inner request, to any
// depth Parse follows), without allocating. It is the cheap pre-check on the request path: only when
// fn finds something of interest does the caller pay for Parse. Because container methods are
// visited too, the set of methods seen is a superset of the leaf methods Parse returns.
//
// Method strings alias body (no copy) and must not be retained by fn. It returns false when the body
// is not JSON-RPC (not an object with a string "method", or an array containing no such object;
// invalid JSON; empty). fn returning false stops the visit early (VisitMethods still returns true).
func VisitMethods(body []byte, n *Nesting, fn func(method string) bool) bool {
	if !validJSON(body) {
		return false
	}
	// Aliasing is safe: gjson only reads, and method strings are documented as not retainable.
	doc := gjson.Parse(unsafe.String(unsafe.SliceData(body), len(body)))
	if doc.IsObject() {
		if !isCallObject(doc, syntaxJSONRPC) {
			return false
		}
		visitCall(doc, syntaxJSONRPC, n, 0, fn)
		return true
	}
	if !doc.IsArray() {
		return false
	}
	sawCall, more := false, true
	doc.ForEach(func(_, el gjson.Result) bool {
		if !isCallObject(el, syntaxJSONRPC) {
			return true
		}
		sawCall = true
		more = visitCall(el, syntaxJSONRPC, n, 0, fn)
		return more
	})
	return sawCall
}

// visitCall reports the call's method and recurses into what it carries. It returns false when fn
// asked to stop.
func visitCall(call gjson.Result, syn callSyntax, n *Nesting, depth int, fn func(string) bool) bool {
	method := call.Get(syn.methodKey()).Str
	if !fn(method) {
		return false
	}
	if n == nil {
		return true
	}
	kind, shape, slot := n.classify(method, call.Get(syn.paramsKey()), depth)
	switch kind {
	case kindMulticall:
		more := true
		slot.ForEach(func(_, entry gjson.Result) bool {
			more = visitCall(entry, shape.entrySyntax(), n, depth+1, fn)
			return more
		})
		return more
	case kindWrapper:
		return visitCall(slot, syntaxJSONRPC, n, depth+1, fn)
	}
	return true
}
