package proxy

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Redactor strips what must never be stored or sent (SPEC.md section 6) before an event reaches the
// queue. The zero value blanks params[0]: set SessionParam to -1 for none.
type Redactor struct {
	SessionParam int      // params[SessionParam] replaced by null in every leaf call; -1: none
	Paths        []string // paths relative to the event {"request":{"method","args"},"result"|"error"}; "#" stands for every array element
	Keys         []string // object keys blanked (value -> null) at any depth in args and result/error; case-insensitive
}

// DefaultRedactKeys are the keys blanked when the configuration names none.
var DefaultRedactKeys = []string{"password", "passwd", "secret", "token", "apikey", "api_key", "authorization"}

// maxRedactDepth bounds the recursive walks below. A value nested deeper than this is replaced by
// null as a whole: what cannot be inspected cannot be shown to be free of secrets.
const maxRedactDepth = 64

// redactArgs applies session, path and key redaction to a leaf call's params.
func (rd *Redactor) redactArgs(args string) string {
	if rd.SessionParam >= 0 {
		if el, ok := arrayElement(gjson.Parse(args), rd.SessionParam); ok && el.Raw != "null" {
			if out, ok := splice(args, el.Raw, "null"); ok {
				args = out
			}
		}
	}
	args = rd.redactPaths(args, "request", "args")
	return redactKeys(args, rd.Keys, 0)
}

// redactOutcome applies path and key redaction to a result ("result") or error ("error") value.
func (rd *Redactor) redactOutcome(raw, root string) string {
	raw = rd.redactPaths(raw, root)
	return redactKeys(raw, rd.Keys, 0)
}

// redactPaths applies every configured path that starts with prefix (the location of raw within the
// event document).
func (rd *Redactor) redactPaths(raw string, prefix ...string) string {
	for _, path := range rd.Paths {
		segs := splitPath(path)
		if len(segs) < len(prefix) {
			continue
		}
		matches := true
		for i, p := range prefix {
			if segs[i] != p {
				matches = false
				break
			}
		}
		if matches {
			raw = redactPath(raw, segs[len(prefix):], 0)
		}
	}
	return raw
}

// splitPath splits a gjson-style path on dots; a backslash escapes the next character.
func splitPath(path string) []string {
	var segs []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '\\' && i+1 < len(path):
			i++
			cur.WriteByte(path[i])
		case c == '.':
			segs = append(segs, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(segs, cur.String())
}

// redactPath replaces the value at segs inside raw by null; "#" walks every array element. Missing
// paths leave raw unchanged. Untouched bytes stay as they were.
func redactPath(raw string, segs []string, depth int) string {
	if len(segs) == 0 {
		return "null"
	}
	if depth > maxRedactDepth {
		return raw
	}
	v := gjson.Parse(raw)
	seg, rest := segs[0], segs[1:]
	var subs, repls []string
	switch {
	case v.IsArray() && seg == "#":
		v.ForEach(func(_, el gjson.Result) bool {
			subs = append(subs, el.Raw)
			repls = append(repls, redactPath(el.Raw, rest, depth+1))
			return true
		})
	case v.IsArray():
		idx, err := strconv.Atoi(seg)
		if err != nil {
			return raw
		}
		if el, ok := arrayElement(v, idx); ok {
			subs, repls = []string{el.Raw}, []string{redactPath(el.Raw, rest, depth+1)}
		}
	case v.IsObject():
		v.ForEach(func(k, val gjson.Result) bool {
			if k.Str == seg {
				subs = append(subs, val.Raw)
				repls = append(repls, redactPath(val.Raw, rest, depth+1))
			}
			return true
		})
	}
	return spliceAll(raw, subs, repls)
}

// redactKeys blanks the value of every object key in keys (case-insensitive) at any depth. raw is
// returned unchanged when no such key occurs.
func redactKeys(raw string, keys []string, depth int) string {
	if len(keys) == 0 {
		return raw
	}
	if depth > maxRedactDepth {
		return "null"
	}
	v := gjson.Parse(raw)
	if !v.IsObject() && !v.IsArray() {
		return raw
	}
	var subs, repls []string
	v.ForEach(func(k, val gjson.Result) bool {
		repl := ""
		if v.IsObject() && keyIn(k.Str, keys) {
			repl = "null"
		} else if val.IsObject() || val.IsArray() {
			repl = redactKeys(val.Raw, keys, depth+1)
		}
		if repl != "" && repl != val.Raw {
			subs = append(subs, val.Raw)
			repls = append(repls, repl)
		}
		return true
	})
	return spliceAll(raw, subs, repls)
}

func keyIn(key string, keys []string) bool {
	for _, k := range keys {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}
