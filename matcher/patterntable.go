package matcher

import (
	"cmp"
	"slices"
	"strings"
)

// maxShapeSegments is the largest segment count a shape describes: wildcard positions are bits of
// a uint64. Longer wildcard patterns are valid but checked one by one.
const maxShapeSegments = 64

// keyBufferSize is the stack buffer a lookup key is built in; only a method longer than this
// makes a lookup allocate.
const keyBufferSize = 512

// shape is what wildcard patterns are grouped by: how many segments they have and which of them
// are `*`. Two patterns of one shape differ only in their literal segments, so one map lookup
// on those literal segments finds the pattern a name matches, whatever the number of patterns.
type shape struct {
	segments int
	wild     uint64 // bit i set: segment i is `*`
}

// shapeTable holds the patterns of one shape, keyed by their literal segments.
type shapeTable[T any] struct {
	shape shape
	byKey map[string]T
}

// longPattern is a wildcard pattern with more segments than a shape can describe.
type longPattern[T any] struct {
	pattern string
	value   T
}

// patternTable maps patterns to values of T and finds, for a method, the values of every pattern
// that matches it. Lookups cost one map lookup per exact candidate and per shape present, do not
// allocate, and never write, so a table may be read concurrently once built.
type patternTable[T any] struct {
	exact       map[string]T
	shapes      []shapeTable[T]
	matchAll    T
	hasMatchAll bool
	long        []longPattern[T]
}

// newPatternTable compiles values, keyed by valid patterns; invalid patterns are left out (they
// never match).
func newPatternTable[T any](values map[string]T) patternTable[T] {
	t := patternTable[T]{exact: make(map[string]T)}
	byShape := make(map[shape]map[string]T)
	for pattern, v := range values {
		if ValidatePattern(pattern) != nil {
			continue
		}
		if pattern == matchAllPattern {
			t.matchAll, t.hasMatchAll = v, true
			continue
		}
		sh, ok := shapeOf(pattern)
		switch {
		case !ok:
			t.long = append(t.long, longPattern[T]{pattern: pattern, value: v})
		case sh.wild == 0:
			t.exact[pattern] = v
		default:
			if byShape[sh] == nil {
				byShape[sh] = make(map[string]T)
			}
			byShape[sh][string(appendShapeKey(nil, pattern, sh))] = v
		}
	}
	for sh, byKey := range byShape {
		t.shapes = append(t.shapes, shapeTable[T]{shape: sh, byKey: byKey})
	}
	// A fixed order makes Index.Match's output order independent of map iteration.
	slices.SortFunc(t.shapes, func(a, b shapeTable[T]) int {
		return cmp.Or(cmp.Compare(a.shape.segments, b.shape.segments), cmp.Compare(a.shape.wild, b.shape.wild))
	})
	slices.SortFunc(t.long, func(a, b longPattern[T]) int { return strings.Compare(a.pattern, b.pattern) })
	return t
}

// shapeOf returns the shape of a valid pattern; false when it has too many segments for one.
func shapeOf(pattern string) (shape, bool) {
	sh := shape{}
	for i := 0; ; i++ {
		if i >= maxShapeSegments {
			return shape{}, false
		}
		seg, rest, more := strings.Cut(pattern, ".")
		if seg == wildcardSegment {
			sh.wild |= 1 << i
		}
		sh.segments++
		if !more {
			return sh, true
		}
		pattern = rest
	}
}

// appendShapeKey appends the segments of name that sh does not wildcard, joined by dots. name has
// sh.segments segments; since segments contain no dot, the key is unambiguous within a shape.
func appendShapeKey(dst []byte, name string, sh shape) []byte {
	written := false
	for i := 0; ; i++ {
		seg, rest, more := strings.Cut(name, ".")
		if sh.wild&(1<<i) == 0 {
			if written {
				dst = append(dst, '.')
			}
			dst = append(dst, seg...)
			written = true
		}
		if !more {
			return dst
		}
		name = rest
	}
}

// forEach calls yield with the value of every pattern matching method, each at most once, until
// yield returns true; it reports whether yield stopped it. Order: exact full method, exact service
// call, shapes by (segments, wildcards), the lone `*`, long patterns.
func (t *patternTable[T]) forEach(method string, yield func(T) bool) bool {
	if v, ok := t.exact[method]; ok && yield(v) {
		return true
	}
	sc := ServiceCall(method)
	// With at most two segments the method is its own service call: look it up once.
	scDistinct := len(sc) != len(method)
	if scDistinct {
		if v, ok := t.exact[sc]; ok && yield(v) {
			return true
		}
	}
	if len(t.shapes) > 0 {
		methodSegments := segmentCount(method)
		scSegments := segmentCount(sc)
		var buf [keyBufferSize]byte
		for i := range t.shapes {
			st := &t.shapes[i]
			var name string
			switch {
			case st.shape.segments == methodSegments:
				name = method
			case scDistinct && st.shape.segments == scSegments:
				name = sc
			default:
				continue
			}
			key := appendShapeKey(buf[:0], name, st.shape)
			if v, ok := st.byKey[string(key)]; ok && yield(v) {
				return true
			}
		}
	}
	if t.hasMatchAll && yield(t.matchAll) {
		return true
	}
	for i := range t.long {
		if MatchPattern(t.long[i].pattern, method) && yield(t.long[i].value) {
			return true
		}
	}
	return false
}

// any reports whether some pattern matches method.
func (t *patternTable[T]) any(method string) bool {
	return t.forEach(method, func(T) bool { return true })
}
