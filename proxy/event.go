package proxy

import (
	"unsafe"

	"github.com/sidehook/sidehook/matcher"
)

// Event is one leaf call with its outcome, redacted, ready to become webhook bodies. Every byte in it
// may be stored and sent: redaction has already happened. Args, Result and Error may be the very bytes of
// the Call's params and the Outcome's value (when redaction left them as they were): none of them is ever
// written to.
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
//
// Redaction works on strings; the call's params and the outcome's value are read as strings in place (they are
// never written to), and a value that redaction leaves as it was goes into the event as the same bytes. Only a
// value something was blanked in is a new copy.
func (rd *Redactor) Event(c Call, o Outcome) Event {
	args := "null"
	if len(c.Params) > 0 {
		args = bytesView(c.Params)
	}
	session := rd.session(args)
	ev := Event{
		Method:       c.Method,
		ServiceCall:  matcher.ServiceCall(c.Method),
		Args:         redactedBytes(c.Params, args, rd.redactArgs(args, session)),
		ID:           c.ID,
		Notification: c.Notification,
	}
	switch {
	case !o.Found:
	case o.OK:
		raw := outcomeRaw(o.Result)
		ev.Result = redactedBytes(o.Result, raw, rd.redactOutcome(raw, "result", session))
	default:
		raw := outcomeRaw(o.Error)
		ev.Error = redactedBytes(o.Error, raw, rd.redactOutcome(raw, "error", session))
	}
	return ev
}

// outcomeRaw reads an outcome's value as a string without copying it; "null" when there is none.
func outcomeRaw(b []byte) string {
	if len(b) == 0 {
		return "null"
	}
	return bytesView(b)
}

// bytesView is b read as a string, without a copy. The string is only valid while b is not written to: the
// request's params and the outcomes' values never are once built.
func bytesView(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// redactedBytes is the event's copy of a redacted value: orig itself when redaction returned its view
// untouched, else a copy of the redacted string.
func redactedBytes(orig []byte, view, redacted string) []byte {
	if len(orig) > 0 && len(redacted) == len(view) && unsafe.StringData(redacted) == unsafe.StringData(view) {
		return orig
	}
	return []byte(redacted)
}
