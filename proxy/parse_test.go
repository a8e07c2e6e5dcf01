package proxy

import (
	"errors"
	"slices"
	"testing"
)

func TestVisitMethods(t *testing.T) {
	n := testNesting()
	for _, tc := range parseCases() {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			ok := VisitMethods([]byte(tc.body), n, func(m string) bool {
				got = append(got, string([]byte(m)))
				return true
			})
			if ok == tc.notRPC {
				t.Fatalf("VisitMethods returned %v, want %v", ok, !tc.notRPC)
			}
			if !slices.Equal(got, tc.visited) {
				t.Fatalf("visited %q, want %q", got, tc.visited)
			}
		})
	}
}

func TestVisitMethodsStopsEarly(t *testing.T) {
	body := []byte(`[{"method":"a","id":1},{"method":"b","id":2},{"method":"c","id":3}]`)
	var seen []string
	ok := VisitMethods(body, nil, func(m string) bool {
		seen = append(seen, m)
		return m != "b"
	})
	if !ok || !slices.Equal(seen, []string{"a", "b"}) {
		t.Fatalf("ok=%v seen=%q, want true [a b]", ok, seen)
	}
}

func TestVisitMethodsDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	n := testNesting()
	bodies := map[string][]byte{
		"single":    []byte(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":["sess",1234,{"a":[1,2,3]}],"id":1}`),
		"batch":     []byte(`[{"jsonrpc":"2.0","method":"a.b","params":[1],"id":1},{"jsonrpc":"2.0","method":"c.d","params":{"x":"y"},"id":2}]`),
		"multicall": []byte(parseCases()[3].body),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			count := 0
			fn := func(m string) bool { count += len(m); return true }
			allocs := testing.AllocsPerRun(100, func() {
				VisitMethods(body, n, fn)
			})
			if allocs != 0 {
				t.Fatalf("VisitMethods allocated %v times per run, want 0", allocs)
			}
			if count == 0 {
				t.Fatal("no method visited")
			}
		})
	}
}

func TestParse(t *testing.T) {
	n := testNesting()
	for _, tc := range parseCases() {
		t.Run(tc.name, func(t *testing.T) {
			req, err := Parse([]byte(tc.body), n)
			if tc.notRPC {
				if !errors.Is(err, ErrNotJSONRPC) {
					t.Fatalf("err = %v, want ErrNotJSONRPC", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Batch != tc.batch {
				t.Errorf("Batch = %v, want %v", req.Batch, tc.batch)
			}
			assertCalls(t, req.Calls, tc.calls)
		})
	}
}

func assertCalls(t *testing.T, got []Call, want []wantCall) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d calls %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Method != w.method || string(g.Params) != w.params || string(g.ID) != w.id ||
			g.Notification != w.notification || g.Nested != w.nested {
			t.Errorf("call %d = {%s %s %s notif=%v nested=%v}, want %+v",
				i, g.Method, g.Params, g.ID, g.Notification, g.Nested, w)
		}
		if w.params == "" && g.Params != nil {
			t.Errorf("call %d: Params = %q, want nil", i, g.Params)
		}
	}
}

func TestParseCopiesFromBody(t *testing.T) {
	body := []byte(`{"jsonrpc":"2.0","method":"a.b","params":["x"],"id":1}`)
	req, err := Parse(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = ' '
	}
	c := req.Calls[0]
	if c.Method != "a.b" || string(c.Params) != `["x"]` || string(c.ID) != "1" {
		t.Fatalf("call changed with the body: %+v", c)
	}
}
