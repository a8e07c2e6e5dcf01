package matcher

import (
	"fmt"
	"testing"
)

// mixedSubscriptions returns n subscriptions of one client over a spread of services: a third
// exact service calls, a third exact full methods, a third wildcards of three shapes.
func mixedSubscriptions(n int, client string) []*Subscription {
	subs := make([]*Subscription, n)
	for i := range subs {
		svc, m := i%97, i%89
		var pattern string
		switch i % 6 {
		case 0, 1:
			pattern = fmt.Sprintf("Service%d.method%d", svc, m)
		case 2, 3:
			pattern = fmt.Sprintf("Otys.Services.Service%d.method%d", svc, m)
		case 4:
			pattern = fmt.Sprintf("Service%d.*", svc)
		default:
			if i%2 == 0 {
				pattern = fmt.Sprintf("*.method%d", m)
			} else {
				pattern = fmt.Sprintf("Otys.Services.*.method%d", m)
			}
		}
		subs[i] = sub(fmt.Sprintf("%08x", i), pattern, client, "", true, i)
	}
	return subs
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 10_000} {
		ix := NewIndex(mixedSubscriptions(n, "42"))
		id := Identity{Client: "42", User: "1"}
		for _, method := range []string{"Otys.Services.Service3.method3", "Otys.Services.Nothing.here"} {
			b.Run(fmt.Sprintf("subs=%d/%s/Any", n, method), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					ix.Any(method)
				}
			})
			b.Run(fmt.Sprintf("subs=%d/%s/Match", n, method), func(b *testing.B) {
				b.ReportAllocs()
				dst := make([]*Subscription, 0, 64)
				for b.Loop() {
					dst = ix.Match(method, id, FanoutOne, dst[:0])
				}
			})
		}
	}
}
