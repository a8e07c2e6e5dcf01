package matcher

import (
	"fmt"
	"strings"
)

// PatternSet is a compiled list of patterns, for lists checked on every call such as never_fire:
// Match costs the same for ten patterns as for a thousand and does not allocate.
//
// Its patterns match as subscription patterns do (MatchPattern), with one addition: a pattern of
// one segment without a wildcard, such as `login`, also matches every method whose last segment
// it is (`Otys.Services.login`, `Auth.login`, `Otys.Services.LoginService.login`). An API that
// accepts a method under a namespace as well as bare would otherwise let `Otys.Services.login`
// through a list that names `login`, and a list of calls that must never fire is only as good as
// its weakest spelling.
type PatternSet struct {
	table    patternTable[struct{}]
	lastSegs map[string]struct{} // the one-segment literal patterns, matched against a method's last segment
	patterns []string
}

// NewPatternSet compiles patterns; the error names the first invalid one.
func NewPatternSet(patterns []string) (*PatternSet, error) {
	set := make(map[string]struct{}, len(patterns))
	lastSegs := make(map[string]struct{})
	for _, p := range patterns {
		if err := ValidatePattern(p); err != nil {
			return nil, fmt.Errorf("pattern set: %w", err)
		}
		set[p] = struct{}{}
		if p != matchAllPattern && !strings.Contains(p, ".") {
			lastSegs[p] = struct{}{}
		}
	}
	return &PatternSet{table: newPatternTable(set), lastSegs: lastSegs, patterns: append([]string(nil), patterns...)}, nil
}

// Match reports whether any pattern of ps matches method, a one-segment pattern matching the
// method's last segment (see PatternSet); a nil set matches nothing, so an unconfigured list needs
// no special case.
func (ps *PatternSet) Match(method string) bool {
	if ps == nil {
		return false
	}
	if _, ok := ps.lastSegs[lastSegment(method)]; ok {
		return true
	}
	return ps.table.any(method)
}

// lastSegment returns what follows the last dot of method (all of it without a dot), without
// allocating.
func lastSegment(method string) string {
	return method[strings.LastIndexByte(method, '.')+1:]
}

// Patterns returns the patterns ps was built from, in their order.
func (ps *PatternSet) Patterns() []string {
	if ps == nil {
		return nil
	}
	return append([]string(nil), ps.patterns...)
}
