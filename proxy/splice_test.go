package proxy

import "testing"

func TestSplice(t *testing.T) {
	parent := `{"a":[1,2],"b":"x"}`
	cases := []struct {
		name   string
		sub    string
		repl   string
		want   string
		wantOK bool
	}{
		{name: "inner value", sub: parent[5:10], repl: "null", want: `{"a":null,"b":"x"}`, wantOK: true},
		{name: "whole", sub: parent, repl: "1", want: "1", wantOK: true},
		{name: "equal text elsewhere in memory", sub: string([]byte(parent[5:10])), repl: "null"},
		{name: "empty", sub: "", repl: "null"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := splice(parent, tc.sub, tc.repl)
			if ok != tc.wantOK || got != tc.want {
				t.Fatalf("splice = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
	if got := spliceAll(parent, []string{parent[6:7], parent[15:18]}, []string{"0", "null"}); got != `{"a":[0,2],"b":null}` {
		t.Fatalf("spliceAll = %q", got)
	}
}
