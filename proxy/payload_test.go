package proxy

import (
	"bytes"
	"encoding/json"
	"strings"
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

// A webhook body is JSON for programs: `&`, `<` and `>` arrive as themselves, in the envelope's strings and
// in the redacted request and result, and what the client or the upstream wrote (escaped or not) passes as
// it was. The bytes are compared exactly.
func TestPayloadsDoNotEscapeHTML(t *testing.T) {
	env := Envelope{
		ID: "msg_1", Time: time.Date(2026, 11, 23, 15, 4, 5, 0, time.UTC), WebhookUID: "uid-<1>",
		WebhookURL: "https://example.com/hook?a=1&b=<2>", ClientID: "A&B", UserID: "7",
	}
	rd := Redactor{SessionParam: 0, Keys: DefaultRedactKeys()}
	call := Call{
		Method: "Otys.Services.Q&A.update",
		Params: []byte(`["sess-1",{"title":"R&D <lead>","note":"\u0026 as sent","password":"p&w"}]`),
		ID:     []byte(`3`),
	}
	ev := rd.Event(call, Outcome{Found: true, OK: true, Result: []byte(`{"html":"<b>a&b</b>","token":"t&k"}`)})

	head := `{"id":"msg_1","time":"2026-11-23T15:04:05.000Z","event":"Q&A.update",` +
		`"webhook":{"uid":"uid-<1>","url":"https://example.com/hook?a=1&b=<2>"},"user":{"clientId":"A&B","internalId":"7"},`
	args := `[null,{"title":"R&D <lead>","note":"\u0026 as sent","password":null}]`
	result := `{"html":"<b>a&b</b>","token":null}`
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"otys", OTYSPayload(env, &ev),
			head + `"request":{"method":"Otys.Services.Q&A.update","args":` + args + `},"result":` + result + `}`},
		{"jsonrpc", JSONRPCPayload(env, &ev),
			head + `"request":{"jsonrpc":"2.0","method":"Otys.Services.Q&A.update","params":` + args + `,"id":3},` +
				`"response":{"jsonrpc":"2.0","result":` + result + `,"id":3}}`},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s payload =\n%s\nwant\n%s", tc.name, tc.got, tc.want)
		}
		if !json.Valid(tc.got) {
			t.Errorf("%s payload is not valid JSON", tc.name)
		}
	}
}

// appendJSONString writes what encoding/json would with HTML escaping off, for every kind of character.
func TestAppendJSONStringAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "a&b<c>d", "q\"uote\\back", "\b\f\n\r\t\x00\x1f", "é ünïcode 日本", "\u2028\u2029", "bad\xffutf8", "\xe2\x82"} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want.String())
		}
	}
}

// A notification gets no response: its event says so, "result":null in the otys payload and "response":null
// in the jsonrpc one, and its request has no id.
func TestPayloadsOfANotification(t *testing.T) {
	rd := Redactor{SessionParam: -1}
	ev := rd.Event(Call{Method: "Svc.ping", Params: []byte(`[1]`), Notification: true}, Outcome{Found: true, OK: true})
	env := Envelope{ID: "msg_1", Time: time.Date(2026, 11, 23, 15, 4, 5, 0, time.UTC), WebhookUID: "u", WebhookURL: "https://e.org/h", ClientID: "1", UserID: "2"}
	head := `{"id":"msg_1","time":"2026-11-23T15:04:05.000Z","event":"Svc.ping","webhook":{"uid":"u","url":"https://e.org/h"},"user":{"clientId":"1","internalId":"2"},`
	if got, want := string(OTYSPayload(env, &ev)), head+`"request":{"method":"Svc.ping","args":[1]},"result":null}`; got != want {
		t.Errorf("otys payload =\n%s\nwant\n%s", got, want)
	}
	if got, want := string(JSONRPCPayload(env, &ev)), head+`"request":{"jsonrpc":"2.0","method":"Svc.ping","params":[1]},"response":null}`; got != want {
		t.Errorf("jsonrpc payload =\n%s\nwant\n%s", got, want)
	}
}

// A payload is one allocation: its buffer is sized for the whole body up front (unless a string needs
// escaping), so building it never copies what it wrote so far into a bigger buffer.
func TestPayloadsAreBuiltInOneAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	env := Envelope{ID: "msg_2aB3cD4eF5gH6iJ7kL8mN9", Time: time.Now(), WebhookUID: "uid-1", WebhookURL: "https://example.com/hook?a=1", ClientID: "42", UserID: "7"}
	ok := Event{
		Method:      "Otys.Services.CandidateService.update",
		ServiceCall: "CandidateService.update",
		Args:        []byte(`[null,1234,{"Person":{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com"}}]`),
		Result:      []byte(`{"ok":true,"uid":1234}`),
		ID:          []byte(`17`),
	}
	failed := ok
	failed.Result, failed.Error = nil, []byte(`{"code":-32000,"message":"no"}`)
	notification := ok
	notification.ID, notification.Result, notification.Notification = nil, nil, true
	for name, build := range map[string]func(Envelope, *Event) []byte{"otys": OTYSPayload, "jsonrpc": JSONRPCPayload} {
		for evName, ev := range map[string]*Event{"ok": &ok, "failed": &failed, "notification": &notification} {
			if n := testing.AllocsPerRun(20, func() { build(env, ev) }); n != 1 {
				t.Errorf("%s payload of a %s call: %v allocations, want 1", name, evName, n)
			}
		}
	}
}
