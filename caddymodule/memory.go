package caddymodule

import (
	"github.com/sidehook/sidehook/proxy"
)

// How many copies of its bytes one observed call makes, measured from the code (TestFireReservation
// CoversWhatFiringAllocates checks them against what firing really allocates):
const (
	// requestCopies: the read buffer the request body sits in while the call is observed, and the parsed
	// calls' params.
	requestCopies = 2
	// eventCopies, of the params plus the (decoded) response: pairing copies each call's result (it reads the
	// response in place); building the event reads params and result in place too, and copies a value into
	// the event only when redaction changed it: each redaction that blanks something (the session, a key)
	// rewrites the value once, and the last rewrite is copied back into bytes.
	eventCopies = 4
	// payloadCopies, of each message's own params and result: the payload body, and the copy Badger makes
	// while Enqueue writes it.
	payloadCopies = 2
	// payloadEnvelope bounds a payload's fixed fields (ids, time, URL, identity) and Badger's per-entry keys.
	payloadEnvelope = 1 << 10
)

// callMemory is what one observed call holds of the memory budget besides its held response (which the
// Holder reserves itself): its request, then every copy firing makes, reserved before the copy is made. All
// of it is given back when the call ends (release is deferred), whatever path the call took.
type callMemory struct {
	budget *proxy.Budget
	taken  int64
}

// take reserves n more bytes for the call; false when the budget has no room (nothing is taken then).
func (m *callMemory) take(n int64) bool {
	if !m.budget.Reserve(n) {
		return false
	}
	m.taken += n
	return true
}

// release gives back everything the call took.
func (m *callMemory) release() {
	m.budget.Return(m.taken)
	m.taken = 0
}

// requestCost is what observing a request body of n bytes costs.
func requestCost(n int) int64 { return requestCopies * int64(n) }

// eventsCost is what pairing the response with the calls and building their redacted events costs.
func eventsCost(req *proxy.Request, resp []byte) int64 {
	n := int64(len(resp))
	for _, c := range req.Calls {
		n += int64(len(c.Params))
	}
	return eventCopies * n
}

// payloadCost is what the messages that fire cost: one body per (call, subscription), each carrying that
// call's params and its result or error, until Enqueue has stored them.
func payloadCost(req *proxy.Request, outcomes []proxy.Outcome, plan *firingPlan) int64 {
	var n int64
	for i, subs := range plan.subs {
		if len(subs) == 0 || i >= len(outcomes) {
			continue
		}
		one := int64(len(req.Calls[i].Params)+len(outcomes[i].Result)+len(outcomes[i].Error)) + payloadEnvelope
		n += int64(len(subs)) * one
	}
	return payloadCopies * n
}

// copiesPerResponseByte is how many copies of each response byte firing the plan can make: the events' copies,
// and the payloads' for the call with the most subscriptions (each call's payloads carry only its own part of
// the response). The Holder reserves them as it holds.
func (p *firingPlan) copiesPerResponseByte() int64 {
	most := 0
	for _, subs := range p.subs {
		most = max(most, len(subs))
	}
	return eventCopies + payloadCopies*int64(most)
}

// takeBeyond reserves what n needs beyond *prepaid (what the Holder already reserved for these copies),
// using up the prepaid part first.
func (m *callMemory) takeBeyond(n int64, prepaid *int64) bool {
	use := min(n, *prepaid)
	if !m.take(n - use) {
		return false
	}
	*prepaid -= use
	return true
}
