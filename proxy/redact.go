package proxy

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// Redactor strips what must never be stored or sent (docs/security.md) before an event reaches the
// queue. The zero value blanks params[0]: set SessionParam to -1 for none.
type Redactor struct {
	SessionParam int      // params[SessionParam] replaced by null in every leaf call; -1: none
	Paths        []string // paths relative to the event {"request":{"method","args"},"result"|"error"}; "#" stands for every array element
	Keys         []string // object keys blanked (value -> null) at any depth in args and result/error; case-insensitive
}

// DefaultRedactKeys returns the keys always blanked (a configuration's redact_key adds to them). It returns a
// fresh slice on every call: a shared exported slice could be appended to or overwritten by any importer,
// silently changing what every handler in the process lets through to storage.
func DefaultRedactKeys() []string {
	return []string{"password", "passwd", "secret", "token", "apikey", "api_key", "authorization"}
}

// maxRedactDepth bounds the recursive walks below. A value nested deeper than this is replaced by
// null as a whole: what cannot be inspected cannot be shown to be free of secrets.
const maxRedactDepth = 64

// minContainedSession is the shortest session blanked where it appears inside a longer string ("Bearer
// <session>", a URL carrying it). Shorter values are blanked only where a string equals them, so that a
// two-letter "session" does not wipe every string that happens to contain those letters.
const minContainedSession = 8

// session returns the decoded string at params[SessionParam], "" when there is none or it is not a string.
func (rd *Redactor) session(args string) string {
	if rd.SessionParam < 0 {
		return ""
	}
	el, ok := arrayElement(gjson.Parse(args), rd.SessionParam)
	if !ok || el.Type != gjson.String {
		return ""
	}
	return el.Str
}

// redactArgs applies session, path and key redaction to a leaf call's params.
func (rd *Redactor) redactArgs(args, session string) string {
	if rd.SessionParam >= 0 {
		if el, ok := arrayElement(gjson.Parse(args), rd.SessionParam); ok && el.Raw != "null" {
			if out, ok := splice(args, el.Raw, "null"); ok {
				args = out
			}
		}
	}
	args = redactSession(args, session, 0)
	args = rd.redactPaths(args, "request", "args")
	return redactKeys(args, rd.Keys, 0)
}

// redactOutcome applies session, path and key redaction to a result ("result") or error ("error") value.
// The session is looked for here too: an upstream may echo it back (a login-like answer, an echo, a
// "who am I" record), and docs/security.md promises its bytes are never stored.
func (rd *Redactor) redactOutcome(raw, root, session string) string {
	raw = redactSession(raw, session, 0)
	raw = rd.redactPaths(raw, root)
	return redactKeys(raw, rd.Keys, 0)
}

// redactSession replaces by null every string value (at any depth) that is the session or, for a session
// of at least minContainedSession bytes, contains it; an object with such a key is replaced as a whole. raw
// is returned unchanged when the session does not occur.
func redactSession(raw, session string, depth int) string {
	// Without a backslash every string in raw is written literally, so a session that is not a substring of
	// raw occurs nowhere: the common case costs one scan and no parse.
	if session == "" || (!strings.Contains(raw, session) && !strings.Contains(raw, `\`)) {
		return raw
	}
	if depth > maxRedactDepth {
		return "null"
	}
	v := gjson.Parse(raw)
	if v.Type == gjson.String {
		if holdsSession(v.Str, session) {
			return "null"
		}
		return raw
	}
	if !v.IsObject() && !v.IsArray() {
		return raw
	}
	keyed := false
	var subs, repls []string
	v.ForEach(func(k, val gjson.Result) bool {
		if v.IsObject() && holdsSession(k.Str, session) {
			keyed = true // a key cannot be nulled: the object goes as a whole
			return false
		}
		if repl := redactSession(val.Raw, session, depth+1); repl != val.Raw {
			subs = append(subs, val.Raw)
			repls = append(repls, repl)
		}
		return true
	})
	if keyed {
		return "null"
	}
	return spliceAll(raw, subs, repls)
}

// holdsSession reports whether a decoded string is the session or, for a long enough session, contains it.
func holdsSession(s, session string) bool {
	return s == session || (len(session) >= minContainedSession && strings.Contains(s, session))
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
	if len(keys) == 0 || !mayHoldKey(raw, keys) {
		return raw
	}
	return redactKeysWalk(raw, keys, depth)
}

// redactKeysWalk is redactKeys' walk through every object of raw, parsing each.
func redactKeysWalk(raw string, keys []string, depth int) string {
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
			repl = redactKeysWalk(val.Raw, keys, depth+1)
		}
		if repl != "" && repl != val.Raw {
			subs = append(subs, val.Raw)
			repls = append(repls, repl)
		}
		return true
	})
	return spliceAll(raw, subs, repls)
}

// mayHoldKey is redactKeys' cheap filter, one pass over raw instead of a parse of every object: it reports false
// only when the walk would return raw unchanged for sure. That is when raw is ASCII without a backslash (so
// every key in it is written literally, and keyIn's EqualFold of ASCII strings is ASCII case folding), nests no
// deeper than maxRedactDepth (deeper values are blanked whatever they hold), the keys are ASCII, and no object
// key in raw (a string followed by ':') is one of them. Anything else goes to the walk.
func mayHoldKey(raw string, keys []string) bool {
	for _, k := range keys {
		if !isASCII(k) {
			return true
		}
	}
	depth := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c >= utf8.RuneSelf || c == '\\':
			return true
		case c == '"':
			end := i + 1
			for ; end < len(raw) && raw[end] != '"'; end++ {
				if raw[end] >= utf8.RuneSelf || raw[end] == '\\' {
					return true
				}
			}
			if end == len(raw) {
				return true // not JSON: let the walk decide
			}
			if isObjectKey(raw, end+1) && keyIn(raw[i+1:end], keys) {
				return true
			}
			i = end
		case c == '[' || c == '{':
			if depth++; depth > maxRedactDepth {
				return true
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return false
}

// isObjectKey reports whether the string that ended just before raw[after] is followed by ':'.
func isObjectKey(raw string, after int) bool {
	for ; after < len(raw); after++ {
		switch raw[after] {
		case ' ', '\t', '\n', '\r':
		case ':':
			return true
		default:
			return false
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func keyIn(key string, keys []string) bool {
	for _, k := range keys {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}
