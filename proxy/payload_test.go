package proxy

import (
	"encoding/json"
	"testing"
	"time"
)

func TestPayloads(t *testing.T) {
	env := Envelope{
		ID:         "msg_2aB",
		Time:       time.Date(2026, 11, 23, 16, 4, 5, 123456789, time.FixedZone("CET", 3600)),
		WebhookUID: "uid-1",
		WebhookURL: "https://example.com/hook?a=1",
		ClientID:   "42",
		UserID:     "7",
	}
	ok := Event{
		Method:      "Otys.Services.CandidateService.update",
		ServiceCall: "CandidateService.update",
		Args:        []byte(`[null,1234,{"Person":{"firstName":"Ada"}}]`),
		Result:      []byte(`{"ok":true}`),
		ID:          []byte(`17`),
	}
	failed := ok
	failed.Result, failed.Error = nil, []byte(`{"code":-32000,"message":"no"}`)
	notification := ok
	notification.ID = nil

	head := `{"id":"msg_2aB","time":"2026-11-23T15:04:05.123Z","event":"CandidateService.update",` +
		`"webhook":{"uid":"uid-1","url":"https://example.com/hook?a=1"},"user":{"clientId":"42","internalId":"7"},`
	cases := []struct {
		name  string
		build func(Envelope, *Event) []byte
		ev    Event
		want  string
	}{
		{"otys success", OTYSPayload, ok,
			head + `"request":{"method":"Otys.Services.CandidateService.update","args":[null,1234,{"Person":{"firstName":"Ada"}}]},"result":{"ok":true}}`},
		{"otys error", OTYSPayload, failed,
			head + `"request":{"method":"Otys.Services.CandidateService.update","args":[null,1234,{"Person":{"firstName":"Ada"}}]},"error":{"code":-32000,"message":"no"}}`},
		{"jsonrpc success", JSONRPCPayload, ok,
			head + `"request":{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[null,1234,{"Person":{"firstName":"Ada"}}],"id":17},` +
				`"response":{"jsonrpc":"2.0","result":{"ok":true},"id":17}}`},
		{"jsonrpc error", JSONRPCPayload, failed,
			head + `"request":{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[null,1234,{"Person":{"firstName":"Ada"}}],"id":17},` +
				`"response":{"jsonrpc":"2.0","error":{"code":-32000,"message":"no"},"id":17}}`},
		{"jsonrpc notification", JSONRPCPayload, notification,
			head + `"request":{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[null,1234,{"Person":{"firstName":"Ada"}}]},` +
				`"response":{"jsonrpc":"2.0","result":{"ok":true},"id":null}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.build(env, &tc.ev)
			if string(got) != tc.want {
				t.Fatalf("payload =\n%s\nwant\n%s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Fatal("payload is not valid JSON")
			}
		})
	}
}

func TestPayloadEscapesStrings(t *testing.T) {
	env := Envelope{ID: "a\"b", ClientID: "line\nbreak", WebhookURL: "x\\y"}
	ev := Event{Method: "m\u0001", ServiceCall: "m"}
	for _, p := range [][]byte{OTYSPayload(env, &ev), JSONRPCPayload(env, &ev)} {
		var doc map[string]any
		if err := json.Unmarshal(p, &doc); err != nil {
			t.Fatalf("invalid JSON %s: %v", p, err)
		}
		if doc["id"] != "a\"b" {
			t.Errorf("id = %v", doc["id"])
		}
	}
}
