package matcher

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var epoch = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// sub builds a subscription created minutes after epoch.
func sub(uid, pattern, client, user string, global bool, minutes int) *Subscription {
	return &Subscription{
		UID: uid, ServiceCall: pattern, WebhookURL: "https://example.com/" + uid,
		ClientID: client, UserID: user, KlantGlobal: global, Created: epoch.Add(time.Duration(minutes) * time.Minute),
	}
}

func staticSub(uid, pattern, client, user string) *Subscription {
	s := sub(uid, pattern, client, user, false, 0)
	s.Static = true
	return s
}

func disabled(s *Subscription) *Subscription {
	s.Disabled = true
	return s
}

func uids(subs []*Subscription) []string {
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = s.UID
	}
	return out
}

const update = "Otys.Services.CandidateService.update"

func TestIndexMatch(t *testing.T) {
	tests := []struct {
		name   string
		subs   []*Subscription
		method string
		id     Identity
		fanout Fanout
		want   []string
	}{
		{
			name:   "klantGlobal fires for every user of its client",
			subs:   []*Subscription{sub("g", "CandidateService.update", "42", "7", true, 0)},
			method: update, id: Identity{"42", "8"}, want: []string{"g"},
		},
		{
			name:   "not klantGlobal fires for its own user",
			subs:   []*Subscription{sub("u", "CandidateService.update", "42", "7", false, 0)},
			method: update, id: Identity{"42", "7"}, want: []string{"u"},
		},
		{
			name:   "not klantGlobal does not fire for another user",
			subs:   []*Subscription{sub("u", "CandidateService.update", "42", "7", false, 0)},
			method: update, id: Identity{"42", "8"}, want: nil,
		},
		{
			name:   "another client never matches, even klantGlobal",
			subs:   []*Subscription{sub("g", "*", "42", "7", true, 0), sub("u", "*", "42", "7", false, 0)},
			method: update, id: Identity{"43", "7"}, want: nil,
		},
		{
			name:   "pattern must match",
			subs:   []*Subscription{sub("g", "CandidateService.add", "42", "7", true, 0)},
			method: update, id: Identity{"42", "7"}, want: nil,
		},
		{
			name:   "static without client fires for everyone",
			subs:   []*Subscription{staticSub("s", "*.update", "", "")},
			method: update, id: Identity{"99", "1"}, want: []string{"s"},
		},
		{
			name:   "static without client fires without identity",
			subs:   []*Subscription{staticSub("s", "*.update", "", "")},
			method: update, id: Identity{}, want: []string{"s"},
		},
		{
			name:   "static with client fires for that client",
			subs:   []*Subscription{staticSub("s", "*.update", "42", "")},
			method: update, id: Identity{"42", "1"}, want: []string{"s"},
		},
		{
			name:   "static with client does not fire for another",
			subs:   []*Subscription{staticSub("s", "*.update", "42", "")},
			method: update, id: Identity{"43", "1"}, want: nil,
		},
		{
			name:   "static with client and user fires for that user",
			subs:   []*Subscription{staticSub("s", "*.update", "42", "7")},
			method: update, id: Identity{"42", "7"}, want: []string{"s"},
		},
		{
			name:   "static with client and user does not fire for another user",
			subs:   []*Subscription{staticSub("s", "*.update", "42", "7")},
			method: update, id: Identity{"42", "8"}, want: nil,
		},
		{
			name:   "disabled never fires",
			subs:   []*Subscription{disabled(sub("d", "*", "42", "7", true, 0)), disabled(staticSub("s", "*", "", ""))},
			method: update, id: Identity{"42", "7"}, want: nil,
		},
		{
			name: "FanoutAll fires every match, exact before wildcards",
			subs: []*Subscription{
				sub("a", "*", "42", "", true, 3), sub("b", "CandidateService.update", "42", "", true, 2),
				sub("c", "CandidateService.update", "42", "7", false, 1), sub("d", "*.update", "42", "", true, 0),
			},
			method: update, id: Identity{"42", "7"}, want: []string{"c", "b", "d", "a"},
		},
		{
			name: "FanoutOne prefers the user-specific one",
			subs: []*Subscription{
				sub("old-global", "CandidateService.update", "42", "", true, 0),
				sub("mine", "CandidateService.update", "42", "7", false, 5),
				sub("new-global", "CandidateService.update", "42", "", true, 9),
			},
			method: update, id: Identity{"42", "7"}, fanout: FanoutOne, want: []string{"mine"},
		},
		{
			name: "FanoutOne without a user-specific one takes the oldest",
			subs: []*Subscription{
				sub("new", "CandidateService.update", "42", "", true, 9),
				sub("old", "CandidateService.update", "42", "", true, 0),
				sub("someone-else", "CandidateService.update", "42", "8", false, -5),
			},
			method: update, id: Identity{"42", "7"}, fanout: FanoutOne, want: []string{"old"},
		},
		{
			name: "FanoutOne breaks a Created tie by UID",
			subs: []*Subscription{
				sub("b", "CandidateService.update", "42", "", true, 0),
				sub("a", "CandidateService.update", "42", "", true, 0),
			},
			method: update, id: Identity{"42", "7"}, fanout: FanoutOne, want: []string{"a"},
		},
		{
			name: "FanoutOne is per call: of two matching patterns the more specific fires",
			subs: []*Subscription{
				sub("exact", "CandidateService.update", "42", "", true, 0),
				sub("wild", "CandidateService.*", "42", "", true, 0),
			},
			method: update, id: Identity{"42", "7"}, fanout: FanoutOne, want: []string{"exact"},
		},
		{
			name: "FanoutOne is per client: a global static and the client's own both fire",
			subs: []*Subscription{
				staticSub("static", "CandidateService.update", "", ""),
				sub("own", "CandidateService.update", "42", "", true, 0),
			},
			method: update, id: Identity{"42", "7"}, fanout: FanoutOne, want: []string{"static", "own"},
		},
		{
			name: "FanoutOne ignores disabled ones",
			subs: []*Subscription{
				disabled(sub("mine", "CandidateService.update", "42", "7", false, 0)),
				sub("global", "CandidateService.update", "42", "", true, 5),
			},
			method: update, id: Identity{"42", "7"}, fanout: FanoutOne, want: []string{"global"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := NewIndex(tt.subs)
			got := uids(ix.Match(tt.method, tt.id, tt.fanout, nil))
			if len(got) == 0 {
				got = nil
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIndexAgreesWithMatchPattern(t *testing.T) {
	for i, tt := range patternCases {
		s := sub(fmt.Sprint(i), tt.pattern, "c", "", true, 0)
		ix := NewIndex([]*Subscription{s})
		if got := ix.Any(tt.method); got != tt.match {
			t.Errorf("Index{%q}.Any(%q) = %v, want %v", tt.pattern, tt.method, got, tt.match)
		}
		if got := len(ix.Match(tt.method, Identity{Client: "c"}, FanoutAll, nil)) == 1; got != tt.match {
			t.Errorf("Index{%q}.Match(%q) matched = %v, want %v", tt.pattern, tt.method, got, tt.match)
		}
	}
}

func TestIndexAnyIgnoresDisabled(t *testing.T) {
	ix := NewIndex([]*Subscription{disabled(sub("d", "*", "42", "", true, 0))})
	if ix.Any(update) {
		t.Error("Any matched a disabled subscription")
	}
	if _, ok := ix.Get("d"); !ok {
		t.Error("Get lost a disabled subscription")
	}
	var nilIndex *Index
	if nilIndex.Any(update) || len(nilIndex.Match(update, Identity{}, FanoutAll, nil)) != 0 {
		t.Error("nil index matched")
	}
}

func TestIndexAllIsOrderedByAge(t *testing.T) {
	ix := NewIndex([]*Subscription{
		sub("c", "*", "1", "", true, 5), sub("b", "*", "1", "", true, 0), sub("a", "*", "1", "", true, 5),
		disabled(sub("d", "*", "1", "", true, -1)),
	})
	if got, want := uids(ix.All()), []string{"d", "b", "a", "c"}; !slices.Equal(got, want) {
		t.Errorf("All = %v, want %v", got, want)
	}
}

func TestIndexAnyDoesNotAllocate(t *testing.T) {
	ix := NewIndex(mixedSubscriptions(1000, "42"))
	methods := []string{
		"Otys.Services.Service7.method7", // exact and wildcard hits
		"Otys.Services.Nothing.here",     // miss
		"login",                          // one segment
		"aria2.addUri",                   // two segments
	}
	for _, method := range methods {
		if allocs := testing.AllocsPerRun(100, func() { ix.Any(method) }); allocs != 0 {
			t.Errorf("Any(%q) allocates %v times, want 0", method, allocs)
		}
	}
	dst := make([]*Subscription, 0, 64)
	id := Identity{Client: "42", User: "1"}
	for _, f := range []Fanout{FanoutAll, FanoutOne} {
		if allocs := testing.AllocsPerRun(100, func() { dst = ix.Match(methods[0], id, f, dst[:0]) }); allocs != 0 {
			t.Errorf("Match with a reused dst allocates %v times, want 0", allocs)
		}
	}
	if len(dst) == 0 {
		t.Fatal("benchmark fixture matched nothing")
	}
}

// With FanoutOne, one call of one client fires one subscription, whichever of the client's patterns match it:
// the user's own, then the most specific pattern (full method, service call, wildcards by literal
// segments), then the oldest.
func TestIndexFanoutOneFiresOneSubscriptionPerClientAndCall(t *testing.T) {
	tests := []struct {
		name string
		subs []*Subscription
		id   Identity
		want []string
	}{
		{
			name: "service call, full method and wildcard of one client: the full method fires",
			subs: []*Subscription{
				sub("sc", "CandidateService.update", "42", "", true, 0),
				sub("full", update, "42", "", true, 5),
				sub("wild", "CandidateService.*", "42", "", true, -5),
			},
			id: Identity{"42", "7"}, want: []string{"full"},
		},
		{
			name: "service call beats wildcards",
			subs: []*Subscription{
				sub("all", "*", "42", "", true, -9),
				sub("wild", "*.update", "42", "", true, -5),
				sub("sc", "CandidateService.update", "42", "", true, 0),
			},
			id: Identity{"42", "7"}, want: []string{"sc"},
		},
		{
			name: "more literal segments beat fewer",
			subs: []*Subscription{
				sub("all", "*", "42", "", true, -9),
				sub("one", "CandidateService.*", "42", "", true, -5),
				sub("three", "Otys.Services.*.update", "42", "", true, 0),
			},
			id: Identity{"42", "7"}, want: []string{"three"},
		},
		{
			name: "equal specificity: the oldest",
			subs: []*Subscription{
				sub("new", "*.update", "42", "", true, 5),
				sub("old", "CandidateService.*", "42", "", true, 0),
			},
			id: Identity{"42", "7"}, want: []string{"old"},
		},
		{
			name: "the user's own beats a more specific one for every user",
			subs: []*Subscription{
				sub("global-full", update, "42", "", true, 0),
				sub("mine-wild", "*", "42", "7", false, 5),
			},
			id: Identity{"42", "7"}, want: []string{"mine-wild"},
		},
		{
			name: "among the user's own, the most specific",
			subs: []*Subscription{
				sub("mine-wild", "*", "42", "7", false, 0),
				sub("mine-sc", "CandidateService.update", "42", "7", false, 5),
				sub("global-full", update, "42", "", true, -5),
			},
			id: Identity{"42", "7"}, want: []string{"mine-sc"},
		},
		{
			name: "another user's own does not count",
			subs: []*Subscription{
				sub("theirs", update, "42", "8", false, 0),
				sub("global", "*", "42", "", true, 5),
			},
			id: Identity{"42", "7"}, want: []string{"global"},
		},
		{
			name: "per client: the operator's static ones and the client's own each fire once",
			subs: []*Subscription{
				staticSub("static-sc", "CandidateService.update", "", ""),
				staticSub("static-all", "*", "", ""),
				sub("own-sc", "CandidateService.update", "42", "", true, 0),
				sub("own-wild", "CandidateService.*", "42", "", true, -5),
			},
			id: Identity{"42", "7"}, want: []string{"static-sc", "own-sc"},
		},
		{
			name: "without a client: static and unclaimed ones are one group",
			subs: []*Subscription{
				staticSub("static-all", "*", "", ""),
				sub("none-sc", "CandidateService.update", "", "", true, 0),
			},
			id: Identity{}, want: []string{"none-sc"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := uids(NewIndex(tt.subs).Match(update, tt.id, FanoutOne, nil))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}
