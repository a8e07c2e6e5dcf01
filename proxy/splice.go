package proxy

import (
	"strings"
	"unsafe"
)

// offsetIn returns where sub starts inside parent, when sub is a substring of parent's memory (as
// every Raw gjson returns for a Get or ForEach on parent is). Splicing by offset keeps every other
// byte of parent exactly as it was.
func offsetIn(parent, sub string) (int, bool) {
	if len(sub) == 0 || len(sub) > len(parent) {
		return 0, false
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(parent)))
	s := uintptr(unsafe.Pointer(unsafe.StringData(sub)))
	if s < p || s-p > uintptr(len(parent)-len(sub)) {
		return 0, false
	}
	return int(s - p), true
}

// splice replaces sub (a substring of parent's memory) with repl.
func splice(parent, sub, repl string) (string, bool) {
	off, ok := offsetIn(parent, sub)
	if !ok {
		return "", false
	}
	return parent[:off] + repl + parent[off+len(sub):], true
}

// spliceAll replaces each subs[i] (substrings of parent in ascending order) with repls[i].
func spliceAll(parent string, subs, repls []string) string {
	var b strings.Builder
	last := 0
	for i, sub := range subs {
		off, ok := offsetIn(parent, sub)
		if !ok || off < last {
			continue
		}
		b.WriteString(parent[last:off])
		b.WriteString(repls[i])
		last = off + len(sub)
	}
	if last == 0 && b.Len() == 0 {
		return parent
	}
	b.WriteString(parent[last:])
	return b.String()
}
