package proxy

import (
	"errors"
	"testing"
)

// ambiguousBodies are calls that repeat an identifying key somewhere sidehook reads calls from. Each
// is JSON-RPC to VisitMethods (so it reaches Parse) and must be refused by Parse as a whole. They are
// fuzz seeds too.
func ambiguousBodies() map[string]string {
	return map[string]string{
		"method twice":                  `{"jsonrpc":"2.0","method":"CandidateService.update","method":"echo","params":[1],"id":1}`,
		"params twice":                  `{"jsonrpc":"2.0","method":"CandidateService.update","params":["forged"],"params":["real"],"id":1}`,
		"id twice":                      `{"jsonrpc":"2.0","method":"CandidateService.update","params":[],"id":1,"id":2}`,
		"args twice at top":             `{"jsonrpc":"2.0","method":"a.b","args":[1],"args":[2],"id":1}`,
		"methodName twice at top":       `{"jsonrpc":"2.0","method":"a.b","methodName":"x","methodName":"y","id":1}`,
		"method differing in case":      `{"jsonrpc":"2.0","method":"CandidateService.update","Method":"echo","id":1}`,
		"params with a long s":          `{"jsonrpc":"2.0","method":"a.b","params":[1],"paramſ":[2],"id":1}`,
		"method escaped":                `{"jsonrpc":"2.0","method":"CandidateService.update","m\u0065thod":"echo","id":1}`,
		"in a batch":                    `[{"jsonrpc":"2.0","method":"a.b","id":1},{"jsonrpc":"2.0","method":"CandidateService.update","method":"echo","id":2}]`,
		"in a batch with a non-call":    `[5,{"jsonrpc":"2.0","method":"a.b","params":[1],"params":[2],"id":1}]`,
		"otys entry method twice":       `{"jsonrpc":"2.0","method":"` + otysMulti + `","params":[[{"method":"a.b","args":[]},{"method":"CandidateService.update","method":"echo","args":[]}]],"id":1}`,
		"otys entry args twice":         `{"jsonrpc":"2.0","method":"` + otysMulti + `","params":[[{"method":"CandidateService.update","args":["forged"],"args":["real"]}]],"id":1}`,
		"xmlrpc entry methodName twice": `{"jsonrpc":"2.0","method":"` + xmlMulti + `","params":[[{"methodName":"CandidateService.update","methodName":"echo","params":[]}]],"id":1}`,
		"xmlrpc entry params twice":     `{"jsonrpc":"2.0","method":"` + xmlMulti + `","params":[[{"methodName":"CandidateService.update","params":[1],"params":[2]}]],"id":1}`,
		"multicall params twice":        `{"jsonrpc":"2.0","method":"` + otysMulti + `","params":[[{"method":"a.b","args":[]}]],"params":[[{"method":"c.d","args":[]}]],"id":1}`,
		"wrapped request method twice":  `{"jsonrpc":"2.0","method":"` + otysWrapper + `","params":["en",{"jsonrpc":"2.0","method":"CandidateService.update","method":"echo","params":[],"id":9}],"id":1}`,
		"entry of a wrapped multicall": `{"jsonrpc":"2.0","method":"` + otysWrapper + `","params":["en",{"jsonrpc":"2.0","method":"` + otysMulti +
			`","params":[[{"method":"CandidateService.update","method":"echo","args":[]}]],"id":9}],"id":1}`,
		"management method twice": `{"jsonrpc":"2.0","method":"WebhooksService.getList","method":"echo","params":["sess"],"id":1}`,
	}
}

func TestParseRefusesCallsThatRepeatAnIdentifyingKey(t *testing.T) {
	n := testNesting()
	for name, body := range ambiguousBodies() {
		t.Run(name, func(t *testing.T) {
			if !VisitMethods([]byte(body), n, func(string) bool { return true }) {
				t.Fatal("VisitMethods must still see a JSON-RPC body (it stays allocation-free; Parse decides)")
			}
			req, err := Parse([]byte(body), n)
			if !errors.Is(err, ErrAmbiguousCall) || req != nil {
				t.Fatalf("Parse = %v, %v; want nil, ErrAmbiguousCall", req, err)
			}
			if errors.Is(err, ErrNotJSONRPC) {
				t.Fatal("an ambiguous call is JSON-RPC; it must be told apart from a body that is not")
			}
		})
	}
}

// Keys repeated where they do not identify a call (inside params, in a batch element that is not a call,
// in the entries of a method that is not declared a multicall) and distinct keys that only look alike
// leave the body as it was.
func TestParseAcceptsRepeatsOutsideCallObjects(t *testing.T) {
	n := testNesting()
	bodies := map[string]string{
		"inside params":                 `{"jsonrpc":"2.0","method":"a.b","params":[{"method":"x","method":"y","id":1,"id":2}],"id":1}`,
		"other keys repeated":           `{"jsonrpc":"2.0","jsonrpc":"2.0","method":"a.b","x":1,"x":2,"id":1}`,
		"non-call batch element":        `[{"id":1,"id":2},{"jsonrpc":"2.0","method":"a.b","id":3}]`,
		"entries of an undeclared call": `{"jsonrpc":"2.0","method":"Other.execute","params":[[{"method":"a","method":"b"}]],"id":1}`,
		"params and args together":      `{"jsonrpc":"2.0","method":"a.b","params":[1],"args":[2],"id":1}`,
		"method and methodName":         `{"jsonrpc":"2.0","method":"a.b","methodName":"c","id":1}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			req, err := Parse([]byte(body), n)
			if err != nil || len(req.Calls) != 1 {
				t.Fatalf("Parse = %+v, %v; want one call", req, err)
			}
		})
	}
}
