package matcher

import (
	"fmt"
	"testing"
)

// BenchmarkNewIndex is what every change costs on the instance that makes it (and on every instance when it
// polls a changed marker): the whole index is rebuilt, so a change costs in proportion to the subscriptions.
func BenchmarkNewIndex(b *testing.B) {
	for _, n := range []int{10, 10_000} {
		subs := mixedSubscriptions(n, "42")
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				NewIndex(subs)
			}
		})
	}
}

// BenchmarkStoreAdd is one WebhooksService.add on file-system storage: the storage lock, two writes and the
// index rebuild, the last growing with the subscriptions already there (b.N of them by the end).
func BenchmarkStoreAdd(b *testing.B) {
	s, err := NewStore(StoreConfig{Storage: fileStorage(b.TempDir())})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	i := 0
	for b.Loop() {
		i++
		if _, err := s.Add(ctx, Subscription{ServiceCall: fmt.Sprintf("Service%d.method%d", i%97, i%89), WebhookURL: "https://example.com/h", ClientID: "42", KlantGlobal: true}); err != nil {
			b.Fatal(err)
		}
	}
}
