package matcher

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// referenceFires is the firing rule of docs/configuration.md#patterns written plainly, without the index's
// grouping: the model the Index is checked against.
func referenceFires(s *Subscription, id Identity) bool {
	if s.Disabled {
		return false
	}
	if s.Static {
		if s.ClientID == "" {
			return true
		}
		return s.ClientID == id.Client && (s.UserID == "" || s.UserID == id.User)
	}
	return s.ClientID == id.Client && (s.KlantGlobal || s.UserID == id.User)
}

// referenceMatch matches by brute force: every subscription, MatchPattern, referenceFires, and
// for FanoutOne a pairwise choice per client (referencePrefers).
func referenceMatch(subs []*Subscription, method string, id Identity, f Fanout) []string {
	var fired []*Subscription
	for _, s := range subs {
		if MatchPattern(s.ServiceCall, method) && referenceFires(s, id) {
			fired = append(fired, s)
		}
	}
	if f == FanoutOne {
		best := map[string]*Subscription{} // by client; static ones without a client have ""
		for _, s := range fired {
			if cur, ok := best[s.ClientID]; !ok || referencePrefers(s, cur, method, id) {
				best[s.ClientID] = s
			}
		}
		fired = fired[:0]
		for _, s := range best {
			fired = append(fired, s)
		}
	}
	out := uids(fired)
	slices.Sort(out)
	return out
}

// referencePrefers is FanoutOne's order written plainly: the user-specific one, then the more
// specific pattern (full method, service call, then wildcards by literal segments), then the
// older.
func referencePrefers(a, b *Subscription, method string, id Identity) bool {
	mine := func(s *Subscription) bool {
		if s.Static {
			return s.ClientID != "" && s.UserID != "" && s.UserID == id.User
		}
		return !s.KlantGlobal && s.UserID == id.User
	}
	rank := func(s *Subscription) int {
		switch {
		case s.ServiceCall == method:
			return 1000
		case s.ServiceCall == ServiceCall(method):
			return 500
		}
		literal := 0
		for _, seg := range strings.Split(s.ServiceCall, ".") {
			if seg != "*" {
				literal++
			}
		}
		return literal
	}
	if mine(a) != mine(b) {
		return mine(a)
	}
	if rank(a) != rank(b) {
		return rank(a) > rank(b)
	}
	if !a.Created.Equal(b.Created) {
		return a.Created.Before(b.Created)
	}
	return a.UID < b.UID
}

func TestIndexAgreesWithReferenceModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	patterns := []string{"*", "A.x", "A.*", "*.x", "Svc.A.x", "Svc.*.x", "*.*", "x", "B.y", "Svc.A.*"}
	methods := []string{"Svc.A.x", "Svc.B.y", "A.x", "x", "Svc.A.y", "Other.Svc.A.x"}
	clients := []string{"", "1", "2"}
	users := []string{"", "u", "v"}

	subs := make([]*Subscription, 300)
	for i := range subs {
		s := sub(fmt.Sprintf("s%03d", i), patterns[rng.IntN(len(patterns))], clients[rng.IntN(len(clients))],
			users[rng.IntN(len(users))], rng.IntN(2) == 0, rng.IntN(20))
		s.Static = rng.IntN(5) == 0
		s.Disabled = rng.IntN(8) == 0
		subs[i] = s
	}
	ix := NewIndex(subs)
	for _, method := range methods {
		if got, want := ix.Any(method), anyEnabledMatch(subs, method); got != want {
			t.Errorf("Any(%q) = %v, want %v", method, got, want)
		}
		for _, client := range clients {
			for _, user := range users {
				for _, f := range []Fanout{FanoutAll, FanoutOne} {
					id := Identity{client, user}
					got := uids(ix.Match(method, id, f, nil))
					slices.Sort(got)
					want := referenceMatch(subs, method, id, f)
					if !slices.Equal(got, want) {
						t.Errorf("Match(%q, %+v, %v):\n got %v\nwant %v", method, id, f, got, want)
					}
				}
			}
		}
	}
}

func anyEnabledMatch(subs []*Subscription, method string) bool {
	for _, s := range subs {
		if !s.Disabled && MatchPattern(s.ServiceCall, method) {
			return true
		}
	}
	return false
}
