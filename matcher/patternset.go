package matcher

import "fmt"

// PatternSet is a compiled list of patterns, for lists checked on every call such as never_fire:
// Match costs the same for ten patterns as for a thousand and does not allocate.
type PatternSet struct {
	table    patternTable[struct{}]
	patterns []string
}

// NewPatternSet compiles patterns; the error names the first invalid one.
func NewPatternSet(patterns []string) (*PatternSet, error) {
	set := make(map[string]struct{}, len(patterns))
	for _, p := range patterns {
		if err := ValidatePattern(p); err != nil {
			return nil, fmt.Errorf("pattern set: %w", err)
		}
		set[p] = struct{}{}
	}
	return &PatternSet{table: newPatternTable(set), patterns: append([]string(nil), patterns...)}, nil
}

// Match reports whether any pattern of ps matches method; a nil set matches nothing, so an
// unconfigured list needs no special case.
func (ps *PatternSet) Match(method string) bool {
	if ps == nil {
		return false
	}
	return ps.table.any(method)
}

// Patterns returns the patterns ps was built from, in their order.
func (ps *PatternSet) Patterns() []string {
	if ps == nil {
		return nil
	}
	return append([]string(nil), ps.patterns...)
}
