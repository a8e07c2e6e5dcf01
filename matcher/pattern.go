package matcher

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidPattern is wrapped by every error of ValidatePattern, so callers can tell a bad
// pattern (a client error) from a storage failure.
var ErrInvalidPattern = errors.New("invalid pattern")

// matchAllPattern is the lone wildcard: it matches every call, whatever its segment count.
const matchAllPattern = "*"

// wildcardSegment stands for exactly one whole segment.
const wildcardSegment = "*"

// ServiceCall returns the last two dot-separated segments of method
// (Otys.Services.CandidateService.update -> CandidateService.update); a method with at most one
// dot is its own service call. It returns a substring of method, so it does not allocate.
//
// It is the only definition of the rule: patterns are matched against it, and proxy puts it in each event (the
// payload's serviceCall), so a receiver sees the very name its subscription's pattern matched.
func ServiceCall(method string) string {
	last := strings.LastIndexByte(method, '.')
	if last < 0 {
		return method
	}
	prev := strings.LastIndexByte(method[:last], '.')
	return method[prev+1:]
}

// ValidatePattern reports why p cannot be a subscription pattern, or nil. A pattern is one or
// more non-empty dot-separated segments, without whitespace or control characters, where `*` may
// only appear as a whole segment.
func ValidatePattern(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty", ErrInvalidPattern)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("%w %q: not valid UTF-8", ErrInvalidPattern, p)
	}
	for _, r := range p {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%w %q: contains whitespace or a control character", ErrInvalidPattern, p)
		}
	}
	for i, seg := range strings.Split(p, ".") {
		if seg == "" {
			return fmt.Errorf("%w %q: segment %d is empty", ErrInvalidPattern, p, i+1)
		}
		if seg != wildcardSegment && strings.Contains(seg, "*") {
			return fmt.Errorf("%w %q: segment %q: * must be a whole segment", ErrInvalidPattern, p, seg)
		}
	}
	return nil
}

// MatchPattern reports whether pattern matches a call of method: it equals the full method or
// its service call, `*` standing for exactly one segment; a lone `*` matches every call.
// It is the reference the Index is tested against; the Index does the same work in time
// independent of the number of patterns.
func MatchPattern(pattern, method string) bool {
	if pattern == "" {
		return false
	}
	if pattern == matchAllPattern {
		return true
	}
	if matchSegments(pattern, method) {
		return true
	}
	sc := ServiceCall(method)
	return len(sc) != len(method) && matchSegments(pattern, sc)
}

// matchSegments compares pattern and name segment by segment, `*` matching any one segment; both
// must have the same number of segments.
func matchSegments(pattern, name string) bool {
	for {
		pseg, prest, pmore := strings.Cut(pattern, ".")
		nseg, nrest, nmore := strings.Cut(name, ".")
		if pseg != wildcardSegment && pseg != nseg {
			return false
		}
		if !pmore || !nmore {
			return pmore == nmore
		}
		pattern, name = prest, nrest
	}
}

// segmentCount returns the number of dot-separated segments of s.
func segmentCount(s string) int {
	return strings.Count(s, ".") + 1
}
