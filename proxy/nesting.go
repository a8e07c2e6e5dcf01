package proxy

import "github.com/tidwall/gjson"

// MulticallShape is the wire shape of a multicall method: how its inner calls are written and how
// their results come back.
type MulticallShape int

const (
	// MulticallOTYS: params [[{"method","args"},…]], result
	// [{"status":"success","data":…}|{"status":"error","message":…},…].
	MulticallOTYS MulticallShape = iota + 1
	// MulticallXMLRPC: system.multicall: params [[{"methodName","params"},…]], result
	// [[r1],[r2],{"faultCode":n,"faultString":s},…].
	MulticallXMLRPC
)

// Nesting declares which methods carry other calls. nil or empty: no nesting.
type Nesting struct {
	Multicall map[string]MulticallShape // full method name -> shape
	Wrapper   map[string]int            // full method name -> index of the param that is a whole inner request object
}

// maxNestingDepth bounds recursion into multicalls and wrappers: a hostile body cannot make the
// parser recurse without end, and deeper calls are treated as plain leaves.
const maxNestingDepth = 8

// callSyntax says where a call object keeps its method and params. A JSON-RPC request uses
// "method"/"params", an OTYS multicall entry "method"/"args", an XML-RPC entry "methodName"/"params".
type callSyntax uint8

const (
	syntaxJSONRPC callSyntax = iota
	syntaxOTYSEntry
	syntaxXMLRPCEntry
)

func (s callSyntax) methodKey() string {
	if s == syntaxXMLRPCEntry {
		return "methodName"
	}
	return "method"
}

func (s callSyntax) paramsKey() string {
	if s == syntaxOTYSEntry {
		return "args"
	}
	return "params"
}

func (m MulticallShape) entrySyntax() callSyntax {
	if m == MulticallXMLRPC {
		return syntaxXMLRPCEntry
	}
	return syntaxOTYSEntry
}

// isCallObject reports whether v is a call in the given syntax: an object with a string method.
func isCallObject(v gjson.Result, syn callSyntax) bool {
	return v.IsObject() && v.Get(syn.methodKey()).Type == gjson.String
}

// multicallEntries returns the list of inner calls when params has the declared shape: an array whose
// first element is a non-empty array of call objects. Anything else means "not a multicall after all".
func multicallEntries(params gjson.Result, shape MulticallShape) (gjson.Result, bool) {
	if !params.IsArray() {
		return gjson.Result{}, false
	}
	list := params.Get("0")
	if !list.IsArray() {
		return gjson.Result{}, false
	}
	syn := shape.entrySyntax()
	count, valid := 0, true
	list.ForEach(func(_, e gjson.Result) bool {
		if !isCallObject(e, syn) {
			valid = false
			return false
		}
		count++
		return true
	})
	return list, valid && count > 0
}

// wrappedRequest returns params[idx] when it is a whole JSON-RPC request object.
func wrappedRequest(params gjson.Result, idx int) (gjson.Result, bool) {
	inner, ok := arrayElement(params, idx)
	if !ok || !isCallObject(inner, syntaxJSONRPC) {
		return gjson.Result{}, false
	}
	return inner, true
}

// arrayElement returns arr[idx] without building a path string (which would allocate).
func arrayElement(arr gjson.Result, idx int) (gjson.Result, bool) {
	if !arr.IsArray() || idx < 0 {
		return gjson.Result{}, false
	}
	var found gjson.Result
	i := 0
	arr.ForEach(func(_, v gjson.Result) bool {
		if i == idx {
			found = v
			return false
		}
		i++
		return true
	})
	return found, found.Exists()
}

// nestedKind is what the Nesting declaration makes of a call: a multicall with valid entries, a
// wrapper with a valid inner request, or a leaf.
type nestedKind uint8

const (
	kindLeaf nestedKind = iota
	kindMulticall
	kindWrapper
	kindOther // a batch element that is not a call: kept for the upstream, never paired
)

// classify decides how a call carries other calls. It returns the multicall entry list or the
// wrapped request in slot. The same rules serve VisitMethods and Parse so they never disagree.
func (n *Nesting) classify(method string, params gjson.Result, depth int) (kind nestedKind, shape MulticallShape, slot gjson.Result) {
	if n == nil || depth >= maxNestingDepth {
		return kindLeaf, 0, gjson.Result{}
	}
	if shape, ok := n.Multicall[method]; ok {
		if list, ok := multicallEntries(params, shape); ok {
			return kindMulticall, shape, list
		}
		return kindLeaf, 0, gjson.Result{}
	}
	if idx, ok := n.Wrapper[method]; ok {
		if inner, ok := wrappedRequest(params, idx); ok {
			return kindWrapper, 0, inner
		}
	}
	return kindLeaf, 0, gjson.Result{}
}
