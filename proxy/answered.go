package proxy

import "github.com/tidwall/gjson"

// AnsweredBy reports whether resp is a JSON-RPC answer to r rather than some other body, such as an error
// page a gateway sent in the upstream's place. A single call is answered by an object carrying "result" or
// "error" and the call's own id; a batch by an array, whose entries Outcomes pairs by id (so entries that
// answer nothing of r pair with nothing). It lets a response fire by what it says even when its HTTP
// status is not 2xx: many servers answer a JSON-RPC error with 400 or 500.
func (r *Request) AnsweredBy(resp []byte) bool {
	if !validJSON(resp) {
		return false
	}
	doc := gjson.ParseBytes(resp)
	if r.Batch {
		return doc.IsArray()
	}
	if len(r.top) != 1 || !r.top[0].hasID || !doc.IsObject() {
		return false
	}
	if !doc.Get("result").Exists() && !doc.Get("error").Exists() {
		return false
	}
	return sameID(gjson.Parse(r.top[0].id), doc.Get("id"))
}
