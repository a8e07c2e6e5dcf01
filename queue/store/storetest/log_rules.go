package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

func logRules() []rule {
	return []rule{
		{"LogsNewestFirstPerClient", logsNewestFirstPerClient},
		{"LogsHide", logsHide},
		{"LogOfUnknownIsNotFound", logOfUnknownIsNotFound},
	}
}

// Logs lists a client's items (or every client's) newest first, filtered by status, at most Limit.
func logsNewestFirstPerClient(t *testing.T, s *suite) {
	f := s.newFixture(t)
	ids := map[string][]string{}
	for i := range 6 {
		client := []string{"A", "B"}[i%2]
		ev := event(destURL(1))
		ev.ClientID = client
		ev.Created = at(time.Duration(i) * time.Minute)
		f.enqueue(ev.Created, policy, ev)
		ids[client] = append(ids[client], ev.ID)
	}
	newest := func(s []string) []string {
		out := make([]string, len(s))
		for i, v := range s {
			out[len(s)-1-i] = v
		}
		return out
	}
	tests := []struct {
		name  string
		query store.LogQuery
		want  []string
	}{
		{"client A newest first", store.LogQuery{ClientID: "A"}, newest(ids["A"])},
		{"client B limited to 2", store.LogQuery{ClientID: "B", Limit: 2}, newest(ids["B"])[:2]},
		{"unknown client sees nothing", store.LogQuery{ClientID: "C"}, nil},
		{"client prefix is not a match", store.LogQuery{ClientID: ""}, nil},
		{"any client, newest first", store.LogQuery{AnyClient: true, Limit: 3}, []string{ids["B"][2], ids["A"][2], ids["B"][1]}},
		{"status filter", store.LogQuery{ClientID: "A", Status: store.StatusDelivered}, nil},
		{"status filter pending", store.LogQuery{ClientID: "A", Status: store.StatusPending, Limit: 1}, []string{ids["A"][2]}},
	}
	for _, tt := range tests {
		items, err := f.store.Logs(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range items {
			got = append(got, it.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: Logs = %v, want %v", tt.name, got, tt.want)
		}
	}
	if item := f.log(ids["A"][0]); item.Added != "2026-11-23 10:00:00" || item.Status != store.StatusPending {
		t.Errorf("pending item = %+v", item)
	}
}

// Hide leaves items out before Limit counts them.
func logsHide(t *testing.T, s *suite) {
	f := s.newFixture(t)
	var visible []string
	for i := range 6 {
		ev := event(destURL(1))
		ev.SubscriptionUID = []string{"own", "operator"}[i%2]
		ev.Created = at(time.Duration(i) * time.Minute)
		f.enqueue(ev.Created, policy, ev)
		if ev.SubscriptionUID == "own" {
			visible = append(visible, ev.ID)
		}
	}
	items, err := f.store.Logs(store.LogQuery{ClientID: "42", Limit: 2, Hide: func(uid string) bool { return uid == "operator" }})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].ID != visible[2] || items[1].ID != visible[1] {
		t.Errorf("Logs with Hide = %+v, want the two newest visible items %v", items, visible[1:])
	}
}

func logOfUnknownIsNotFound(t *testing.T, s *suite) {
	f := s.newFixture(t)
	if _, found, err := f.store.Log(newID()); found || err != nil {
		t.Errorf("Log(unknown) = found %v, err %v", found, err)
	}
}
