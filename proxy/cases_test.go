package proxy

import (
	"testing"
	"time"
)

// Method names used across the tests, as the OTYS preset declares them.
const (
	otysMulti   = "Otys.Services.MultiService.execute"
	otysWrapper = "Otys.Services.LanguageService.wrapRequest"
	xmlMulti    = "system.multicall"
)

func testNesting() *Nesting {
	return &Nesting{
		Multicall: map[string]MulticallShape{otysMulti: MulticallOTYS, xmlMulti: MulticallXMLRPC},
		Wrapper:   map[string]int{otysWrapper: 1},
	}
}

// wantCall is a Call written as strings so table rows stay readable.
type wantCall struct {
	method, params, id string
	notification       bool
	nested             bool
}

// parseCase is one body with what Parse and VisitMethods must make of it. The cases double as fuzz
// seeds.
type parseCase struct {
	name    string
	body    string
	notRPC  bool
	batch   bool
	visited []string // every method VisitMethods reports, containers included
	calls   []wantCall
}

func parseCases() []parseCase {
	return []parseCase{
		{
			name:    "single",
			body:    `{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":["sess",1234,{"a":1}],"id":1}`,
			visited: []string{"Otys.Services.CandidateService.update"},
			calls:   []wantCall{{method: "Otys.Services.CandidateService.update", params: `["sess",1234,{"a":1}]`, id: "1"}},
		},
		{
			name:    "batch with non-call elements",
			body:    `[ {"jsonrpc":"2.0","method":"a.b","params":[1],"id":1}, 5, {"foo":1}, {"jsonrpc":"2.0","method":"c.d","id":"x"} ]`,
			batch:   true,
			visited: []string{"a.b", "c.d"},
			calls:   []wantCall{{method: "a.b", params: `[1]`, id: "1"}, {method: "c.d", id: `"x"`}},
		},
		{
			name:    "notification",
			body:    `{"jsonrpc":"2.0","method":"n.note","params":[]}`,
			visited: []string{"n.note"},
			calls:   []wantCall{{method: "n.note", params: `[]`, notification: true}},
		},
		{
			name:    "otys multicall",
			body:    `{"jsonrpc":"2.0","method":"` + otysMulti + `","params":[[{"method":"Otys.Services.CandidateService.update","args":["s",1]},{"method":"Otys.Services.WebhooksService.getList","args":["s"]}]],"id":7}`,
			visited: []string{otysMulti, "Otys.Services.CandidateService.update", "Otys.Services.WebhooksService.getList"},
			calls: []wantCall{
				{method: "Otys.Services.CandidateService.update", params: `["s",1]`, id: "7", nested: true},
				{method: "Otys.Services.WebhooksService.getList", params: `["s"]`, id: "7", nested: true},
			},
		},
		{
			name:    "xmlrpc multicall",
			body:    `{"jsonrpc":"2.0","method":"system.multicall","params":[[{"methodName":"aria2.addUri","params":[["http://x"]]},{"methodName":"aria2.tellStatus","params":["g"]}]],"id":"q"}`,
			visited: []string{xmlMulti, "aria2.addUri", "aria2.tellStatus"},
			calls: []wantCall{
				{method: "aria2.addUri", params: `[["http://x"]]`, id: `"q"`, nested: true},
				{method: "aria2.tellStatus", params: `["g"]`, id: `"q"`, nested: true},
			},
		},
		{
			name:    "wrapper around a multicall",
			body:    `{"jsonrpc":"2.0","method":"` + otysWrapper + `","params":["en",{"jsonrpc":"2.0","method":"` + otysMulti + `","params":[[{"method":"A.x","args":[1]},{"method":"B.y","args":[2]}]],"id":99}],"id":3}`,
			visited: []string{otysWrapper, otysMulti, "A.x", "B.y"},
			calls: []wantCall{
				{method: "A.x", params: `[1]`, id: "3", nested: true},
				{method: "B.y", params: `[2]`, id: "3", nested: true},
			},
		},
		{
			name:    "multicall inside a batch",
			body:    `[{"jsonrpc":"2.0","method":"P.q","id":1},{"jsonrpc":"2.0","method":"system.multicall","params":[[{"methodName":"m.one","params":[1]}]],"id":2},{"jsonrpc":"2.0","method":"n.two"}]`,
			batch:   true,
			visited: []string{"P.q", xmlMulti, "m.one", "n.two"},
			calls: []wantCall{
				{method: "P.q", id: "1"},
				{method: "m.one", params: `[1]`, id: "2", nested: true},
				{method: "n.two", notification: true},
			},
		},
		{
			name:    "multicall of the wrong shape is a leaf",
			body:    `{"jsonrpc":"2.0","method":"system.multicall","params":[{"methodName":"x"}],"id":1}`,
			visited: []string{xmlMulti},
			calls:   []wantCall{{method: xmlMulti, params: `[{"methodName":"x"}]`, id: "1"}},
		},
		{
			name:    "wrapper without an inner request is a leaf",
			body:    `{"jsonrpc":"2.0","method":"` + otysWrapper + `","params":["en","nope"],"id":null}`,
			visited: []string{otysWrapper},
			calls:   []wantCall{{method: otysWrapper, params: `["en","nope"]`, id: "null"}},
		},
		{name: "invalid JSON", body: `{"jsonrpc":"2.0","method":"a.b",`, notRPC: true},
		{name: "object without method", body: `{"jsonrpc":"2.0","id":1}`, notRPC: true},
		{name: "method not a string", body: `{"method":5}`, notRPC: true},
		{name: "array without calls", body: `[1,{"a":2}]`, notRPC: true},
		{name: "empty array", body: `[]`, notRPC: true},
		{name: "scalar", body: `"a.b"`, notRPC: true},
		{name: "empty", body: ``, notRPC: true},
		{name: "too deep", body: deepArray(maxJSONDepth + 1), notRPC: true},
	}
}

func deepArray(depth int) string {
	b := make([]byte, 0, 2*depth)
	for range depth {
		b = append(b, '[')
	}
	for range depth {
		b = append(b, ']')
	}
	return string(b)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, deadline time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("condition not met within %v", deadline)
		}
		time.Sleep(time.Millisecond)
	}
}
