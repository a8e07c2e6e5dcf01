package matcher

import (
	"errors"
	"strings"
	"testing"
)

func TestServiceCall(t *testing.T) {
	tests := []struct{ method, want string }{
		{"Otys.Services.CandidateService.update", "CandidateService.update"},
		{"aria2.addUri", "aria2.addUri"},
		{"login", "login"},
		{"a.b.c", "b.c"},
		{"", ""},
		{"a..b", ".b"},
		{".x", ".x"},
	}
	for _, tt := range tests {
		if got := ServiceCall(tt.method); got != tt.want {
			t.Errorf("ServiceCall(%q) = %q, want %q", tt.method, got, tt.want)
		}
	}
	if a := testing.AllocsPerRun(50, func() { _ = ServiceCall("a.b.c.d") }); a != 0 {
		t.Errorf("ServiceCall allocates %v", a)
	}
}

func TestValidatePattern(t *testing.T) {
	tests := []struct {
		pattern string
		valid   bool
	}{
		{"CandidateService.update", true},
		{"Otys.Services.CandidateService.update", true},
		{"*", true},
		{"*.update", true},
		{"CandidateService.*", true},
		{"Otys.Services.*.update", true},
		{"*.*", true},
		{"login", true},
		{"", false},
		{"..", false},
		{"a.", false},
		{".a", false},
		{"a..b", false},
		{"Cand*", false},
		{"Cand*.update", false},
		{"**", false},
		{"a b", false},
		{" a", false},
		{"a\tb", false},
		{"a\x00b", false},
		{"a.\xff", false},
	}
	for _, tt := range tests {
		err := ValidatePattern(tt.pattern)
		if (err == nil) != tt.valid {
			t.Errorf("ValidatePattern(%q) = %v, want valid=%v", tt.pattern, err, tt.valid)
		}
		if err != nil && !errors.Is(err, ErrInvalidPattern) {
			t.Errorf("ValidatePattern(%q) = %v, does not wrap ErrInvalidPattern", tt.pattern, err)
		}
	}
}

// patternCases is shared by MatchPattern, PatternSet and Index tests: all three must agree.
var patternCases = []struct {
	pattern, method string
	match           bool
}{
	{"Otys.Services.CandidateService.update", "Otys.Services.CandidateService.update", true},
	{"CandidateService.update", "Otys.Services.CandidateService.update", true},
	{"Services.CandidateService.update", "Otys.Services.CandidateService.update", false},
	{"update", "Otys.Services.CandidateService.update", false},
	{"CandidateService.update", "Otys.Services.CandidateService.add", false},
	{"CandidateService.*", "Otys.Services.CandidateService.add", true},
	{"CandidateService.*", "Otys.Services.VacancyService.add", false},
	{"*.update", "Otys.Services.CandidateService.update", true},
	{"*.update", "Otys.Services.CandidateService.updateMany", false},
	{"Otys.Services.*.update", "Otys.Services.CandidateService.update", true},
	{"Otys.*.*.update", "Otys.Services.CandidateService.update", true},
	{"Otys.Services.*", "Otys.Services.CandidateService.update", false},
	{"*.*", "Otys.Services.CandidateService.update", true},
	{"*.*.*", "Otys.Services.CandidateService.update", false},
	{"*.*.*.*", "Otys.Services.CandidateService.update", true},
	{"*", "Otys.Services.CandidateService.update", true},
	{"*", "login", true},
	{"*", "aria2.addUri", true},
	{"aria2.addUri", "aria2.addUri", true},
	{"aria2.*", "aria2.addUri", true},
	{"*.addUri", "aria2.addUri", true},
	{"addUri", "aria2.addUri", false},
	{"login", "login", true},
	{"login", "logins", false},
	{"*.login", "login", false},
	{"login.*", "login", false},
	{"*.loginUser", "Otys.Services.AuthService.loginUser", true},
	{"check", "Otys.Services.AuthService.check", false},
}

func TestMatchPattern(t *testing.T) {
	for _, tt := range patternCases {
		if got := MatchPattern(tt.pattern, tt.method); got != tt.match {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", tt.pattern, tt.method, got, tt.match)
		}
	}
	if MatchPattern("", "") {
		t.Error(`MatchPattern("", "") = true, want false: an empty pattern matches nothing`)
	}
}

func TestPatternSet(t *testing.T) {
	for _, tt := range patternCases {
		ps, err := NewPatternSet([]string{tt.pattern})
		if err != nil {
			t.Fatalf("NewPatternSet(%q): %v", tt.pattern, err)
		}
		// A one-segment literal pattern also matches by the method's last segment (see PatternSet).
		want := tt.match || (!strings.ContainsAny(tt.pattern, ".*") && tt.pattern != "" &&
			strings.HasSuffix("."+tt.method, "."+tt.pattern))
		if got := ps.Match(tt.method); got != want {
			t.Errorf("PatternSet{%q}.Match(%q) = %v, want %v", tt.pattern, tt.method, got, want)
		}
	}

	otysNeverFire := []string{"login", "loginByUid", "loginAs", "logout", "check", "*.loginUser"}
	ps, err := NewPatternSet(otysNeverFire)
	if err != nil {
		t.Fatal(err)
	}
	for method, want := range map[string]bool{
		"login": true, "logout": true, "Otys.Services.AuthService.loginUser": true,
		"Otys.Services.CandidateService.update": false, "check.me": false,
	} {
		if got := ps.Match(method); got != want {
			t.Errorf("never_fire.Match(%q) = %v, want %v", method, got, want)
		}
	}

	var nilSet *PatternSet
	if nilSet.Match("login") {
		t.Error("nil PatternSet matched")
	}
	if _, err := NewPatternSet([]string{"ok", "Cand*"}); !errors.Is(err, ErrInvalidPattern) {
		t.Errorf("NewPatternSet with an invalid pattern: err = %v, want ErrInvalidPattern", err)
	}
}

func TestPatternSetMatchDoesNotAllocate(t *testing.T) {
	ps, err := NewPatternSet([]string{"login", "*.loginUser", "Otys.Services.*.check", "*"})
	if err != nil {
		t.Fatal(err)
	}
	withoutAll, err := NewPatternSet([]string{"login", "*.loginUser", "Otys.Services.*.check", "a.*.*"})
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"Otys.Services.CandidateService.update", "login", "x.y"} {
		for _, set := range []*PatternSet{ps, withoutAll} {
			if allocs := testing.AllocsPerRun(100, func() { set.Match(method) }); allocs != 0 {
				t.Errorf("PatternSet.Match(%q) allocates %v times, want 0", method, allocs)
			}
		}
	}
}

// never_fire lists name calls such as `login` that must not fire under any spelling the API
// accepts: a one-segment pattern matches every method whose last segment it is, while patterns
// with a dot keep the subscription rules.
func TestPatternSetOneSegmentPatternMatchesNamespacedForms(t *testing.T) {
	ps, err := NewPatternSet([]string{"login", "logout", "*.loginUser", "Auth.check"})
	if err != nil {
		t.Fatal(err)
	}
	for method, want := range map[string]bool{
		"login":                               true,
		"X.login":                             true,
		"Otys.Services.login":                 true,
		"Otys.Services.LoginService.login":    true,
		"A.B.C.D.E.logout":                    true,
		"Otys.Services.AuthService.loginUser": true,
		"Otys.Services.Auth.check":            true,
		"Otys.Services.check":                 false, // `Auth.check` has a dot: subscription rules
		"Otys.Services.login.update":          false, // login is not the last segment
		"Otys.Services.loginByUid":            false, // segments compare whole
		"X.relogin":                           false,
		"login.":                              false,
	} {
		if got := ps.Match(method); got != want {
			t.Errorf("Match(%q) = %v, want %v", method, got, want)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { ps.Match("Otys.Services.CandidateService.update") }); allocs != 0 {
		t.Errorf("Match allocates %v times, want 0", allocs)
	}
}
