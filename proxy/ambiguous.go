package proxy

import (
	"errors"
	"strings"

	"github.com/tidwall/gjson"
)

// ErrAmbiguousCall is returned by Parse when a call object names one of the keys that say what the
// call is (method, params, args, methodName, id) more than once. JSON leaves duplicate keys
// undefined and readers disagree: sidehook's parser takes the first, while PHP, Python and Go's
// encoding/json take the last. Acting on such a call would mean firing a correctly signed event for
// a call the upstream never ran (or answering locally a call the upstream would have run), so the
// request must pass through untouched instead. It is JSON-RPC as far as VisitMethods is concerned,
// hence a distinct error from ErrNotJSONRPC.
var ErrAmbiguousCall = errors.New("proxy: a call repeats a key that identifies it")

// identifyingKeys are the keys of a call object, in any of the call syntaxes sidehook reads, that
// decide which call it is, with what arguments, and which response belongs to it.
var identifyingKeys = [...]string{"method", "params", "args", "methodName", "id"}

// repeatsIdentifyingKey reports whether the call object holds one of identifyingKeys more than once.
// Keys are compared after unescaping ("m\u0065thod" is "method") and without regard to case, because
// Go's encoding/json also fills a field from a key that differs only in case ("Method", and even
// "paramſ" with a long s): such a pair means two readers can see two different calls.
func repeatsIdentifyingKey(call gjson.Result) bool {
	var seen [len(identifyingKeys)]bool
	repeated := false
	call.ForEach(func(key, _ gjson.Result) bool {
		for i, name := range identifyingKeys {
			if !strings.EqualFold(key.Str, name) {
				continue
			}
			if seen[i] {
				repeated = true
				return false
			}
			seen[i] = true
		}
		return !repeated
	})
	return repeated
}
