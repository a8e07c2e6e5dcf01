package proxy

import "time"

// Envelope holds the delivery fields every webhook body starts with (docs/payloads.md#bodies).
type Envelope struct {
	ID         string
	Time       time.Time
	WebhookUID string
	WebhookURL string
	ClientID   string
	UserID     string
}

// payloadTimeLayout is RFC 3339 in UTC with exactly three fractional digits, as OTYS sends it.
const payloadTimeLayout = "2006-01-02T15:04:05.000Z"

// OTYSPayload builds the `payload otys` body: {"id","time","event","webhook":{"uid","url"},
// "user":{"clientId","internalId"},"request":{"method","args"},"result"}, with "error" instead of
// "result" for a failed call. Fields are written by hand, in this order, because receivers such as
// the OTYS WordPress plugin are written against OTYS's bodies; raw JSON parts are embedded verbatim,
// and strings are not HTML-escaped (appendJSONString): `&` arrives as `&`.
func OTYSPayload(env Envelope, ev *Event) []byte {
	b := make([]byte, 0, otysFixedLen+payloadVariableLen(env, ev))
	b = appendEnvelope(b, env, ev)
	b = append(b, `,"request":{"method":`...)
	b = appendJSONString(b, ev.Method)
	b = append(b, `,"args":`...)
	b = appendRaw(b, ev.Args)
	b = append(b, '}')
	if ev.Error != nil {
		b = append(b, `,"error":`...)
		b = appendRaw(b, ev.Error)
	} else {
		b = append(b, `,"result":`...)
		b = appendRaw(b, ev.Result)
	}
	return append(b, '}')
}

// JSONRPCPayload builds the `payload jsonrpc` body: the same envelope fields, then "request":
// {"jsonrpc":"2.0","method","params","id"} (id omitted for notifications) and "response":
// {"jsonrpc":"2.0","result"|"error","id"}, or "response":null for a notification (ev.Notification),
// which gets none.
func JSONRPCPayload(env Envelope, ev *Event) []byte {
	b := make([]byte, 0, jsonrpcFixedLen+payloadVariableLen(env, ev)+len(`,"id":`)+2*len(ev.ID))
	b = appendEnvelope(b, env, ev)
	b = append(b, `,"request":{"jsonrpc":"2.0","method":`...)
	b = appendJSONString(b, ev.Method)
	b = append(b, `,"params":`...)
	b = appendRaw(b, ev.Args)
	if ev.ID != nil {
		b = append(b, `,"id":`...)
		b = append(b, ev.ID...)
	}
	if ev.Notification {
		// A notification gets no response: saying there was none is the truth, an invented one is not.
		return append(b, `},"response":null}`...)
	}
	b = append(b, `},"response":{"jsonrpc":"2.0",`...)
	if ev.Error != nil {
		b = append(b, `"error":`...)
		b = appendRaw(b, ev.Error)
	} else {
		b = append(b, `"result":`...)
		b = appendRaw(b, ev.Result)
	}
	b = append(b, `,"id":`...)
	b = appendRaw(b, ev.ID)
	return append(b, "}}"...)
}

// A payload is built in one allocation: its capacity is the bytes every body of its format has (measured
// once, below, on an empty envelope and event: field names, punctuation, the fixed-width time, the "null"s
// of absent values) plus the variable parts as they are. Only a string that needs escaping can outgrow it;
// append then grows the buffer as before.
var otysFixedLen, jsonrpcFixedLen int

func init() {
	otysFixedLen = len(OTYSPayload(Envelope{}, &Event{}))
	jsonrpcFixedLen = len(JSONRPCPayload(Envelope{}, &Event{}))
}

// payloadVariableLen is what env and ev add to a payload's fixed bytes when no string needs escaping.
func payloadVariableLen(env Envelope, ev *Event) int {
	return len(env.ID) + len(env.WebhookUID) + len(env.WebhookURL) + len(env.ClientID) + len(env.UserID) +
		len(ev.ServiceCall) + len(ev.Method) + len(ev.Args) + len(ev.Result) + len(ev.Error)
}

// appendEnvelope writes `{"id",...,"user":{...}` (the object is left open).
func appendEnvelope(b []byte, env Envelope, ev *Event) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, env.ID)
	b = append(b, `,"time":"`...)
	b = env.Time.UTC().AppendFormat(b, payloadTimeLayout)
	b = append(b, `","event":`...)
	b = appendJSONString(b, ev.ServiceCall)
	b = append(b, `,"webhook":{"uid":`...)
	b = appendJSONString(b, env.WebhookUID)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, env.WebhookURL)
	b = append(b, `},"user":{"clientId":`...)
	b = appendJSONString(b, env.ClientID)
	b = append(b, `,"internalId":`...)
	b = appendJSONString(b, env.UserID)
	return append(b, '}')
}

// appendRaw embeds a raw JSON value, null when there is none.
func appendRaw(b, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}
