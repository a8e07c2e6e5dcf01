package proxy

import "github.com/tidwall/gjson"

// maxJSONDepth is the deepest nesting of arrays and objects sidehook inspects. gjson validates and
// walks recursively, so a body of a few MiB of '[' could otherwise exhaust the goroutine stack and
// crash the server; no real JSON-RPC call comes near this depth.
const maxJSONDepth = 256

// shallowEnough reports whether data never nests arrays/objects deeper than maxJSONDepth. It is a
// single allocation-free pass that only tracks strings and brackets; validity is checked afterwards.
func shallowEnough(data []byte) bool {
	depth := 0
	inString, escaped := false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > maxJSONDepth {
				return false
			}
		case ']', '}':
			depth--
		}
	}
	return true
}

// validJSON is gjson.ValidBytes guarded by shallowEnough.
func validJSON(data []byte) bool {
	return shallowEnough(data) && gjson.ValidBytes(data)
}
