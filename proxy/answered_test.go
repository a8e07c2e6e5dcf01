package proxy

import "testing"

func TestAnsweredByTellsAJSONRPCAnswerFromAnyOtherBody(t *testing.T) {
	single := `{"jsonrpc":"2.0","method":"aria2.remove","params":["gid"],"id":7}`
	batch := `[{"jsonrpc":"2.0","method":"a.b","id":1},{"jsonrpc":"2.0","method":"c.d","id":2}]`
	cases := []struct {
		name, request, resp string
		want                bool
	}{
		{"error with the call's id", single, `{"jsonrpc":"2.0","error":{"code":1,"message":"GID not found"},"id":7}`, true},
		{"result with the call's id", single, `{"jsonrpc":"2.0","result":"gid","id":7}`, true},
		{"the same id written otherwise", single, `{"jsonrpc":"2.0","result":"gid","id":7.0}`, true},
		{"another call's id", single, `{"jsonrpc":"2.0","error":{"code":1,"message":"m"},"id":8}`, false},
		{"the id as a string", single, `{"jsonrpc":"2.0","error":{"code":1,"message":"m"},"id":"7"}`, false},
		{"no id", single, `{"error":"bad gateway"}`, false},
		{"null id", single, `{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}`, false},
		{"id but neither result nor error", single, `{"id":7,"status":"down"}`, false},
		{"an HTML error page", single, `<html><body>502 Bad Gateway</body></html>`, false},
		{"empty", single, ``, false},
		{"an array for a single call", single, `[{"jsonrpc":"2.0","result":1,"id":7}]`, false},
		{"a notification has no answer", `{"jsonrpc":"2.0","method":"a.b"}`, `{"jsonrpc":"2.0","result":1,"id":null}`, false},
		{"batch answered by an array", batch, `[{"jsonrpc":"2.0","error":{"code":1,"message":"m"},"id":2},{"jsonrpc":"2.0","result":1,"id":1}]`, true},
		{"batch answered by an object", batch, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}`, false},
		{"batch answered by an HTML page", batch, `<html></html>`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := Parse([]byte(tc.request), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := req.AnsweredBy([]byte(tc.resp)); got != tc.want {
				t.Fatalf("AnsweredBy(%s) = %v, want %v", tc.resp, got, tc.want)
			}
		})
	}
}
