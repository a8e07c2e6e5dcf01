package proxy

import "github.com/sidehook/sidehook/matcher"

// Event is one leaf call with its outcome, redacted, ready to become webhook bodies. Every byte in it
// may be stored and sent: redaction has already happened.
type Event struct {
	Method      string // full method
	ServiceCall string // matcher.ServiceCall(Method): the same rule patterns are matched by (docs/configuration.md#patterns)
	Args        []byte // redacted params (JSON; "null" if absent)
	Result      []byte // redacted result (nil when the call failed or no outcome was found)
	Error       []byte // redacted error (nil when it succeeded or no outcome was found)
	ID          []byte // raw id of the top-level call, nil for notifications
	// Notification: the call had no id, so no response of its own; it fires (under fire_notifications)
	// without a result, and the jsonrpc payload says "response":null.
	Notification bool
}

// Event builds the redacted event for one leaf call and its outcome.
func (rd *Redactor) Event(c Call, o Outcome) Event {
	args := "null"
	if len(c.Params) > 0 {
		args = string(c.Params)
	}
	session := rd.session(args)
	ev := Event{
		Method:       c.Method,
		ServiceCall:  matcher.ServiceCall(c.Method),
		Args:         []byte(rd.redactArgs(args, session)),
		ID:           c.ID,
		Notification: c.Notification,
	}
	switch {
	case !o.Found:
	case o.OK:
		ev.Result = []byte(rd.redactOutcome(outcomeRaw(o.Result), "result", session))
	default:
		ev.Error = []byte(rd.redactOutcome(outcomeRaw(o.Error), "error", session))
	}
	return ev
}

func outcomeRaw(b []byte) string {
	if len(b) == 0 {
		return "null"
	}
	return string(b)
}
