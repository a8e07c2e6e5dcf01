package natskv

import (
	"regexp"
	"strings"
	"testing"
)

// Every key maps to a valid KV key and back to itself (cleaned), whatever bytes it holds; different keys never
// share a KV key.
func TestKeyEscapingRoundTrips(t *testing.T) {
	valid := regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)
	cases := map[string]string{
		"sidehook/subscriptions/abc.json":       "d.sidehook.subscriptions.abc=2Ejson",
		"a=b":                                   "d.a=3Db",
		"/a//b/":                                "d.a.b",
		"certificates/acme/*.example.com/x.key": "d.certificates.acme.=2A=2Eexample=2Ecom.x=2Ekey",
		"ümlaut space/tab\t>":                   "d.=C3=BCmlaut=20space.tab=09=3E",
	}
	seen := map[string]string{}
	for in, want := range cases {
		got, err := kvKey(dataRoot, in)
		if err != nil || got != want {
			t.Errorf("kvKey(%q) = %q, %v; want %q", in, got, err, want)
		}
		if !valid.MatchString(got) {
			t.Errorf("kvKey(%q) = %q: not a valid KV key", in, got)
		}
		back, err := certKey(got)
		if wantBack := cleanKey(in); err != nil || back != wantBack {
			t.Errorf("certKey(%q) = %q, %v; want %q", got, back, err, wantBack)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%q and %q share %q", in, other, got)
		}
		seen[got] = in
	}
	for _, root := range []string{"", "/", ".", "//"} {
		if _, err := kvKey(dataRoot, root); err == nil {
			t.Errorf("kvKey(%q): no error for the root", root)
		}
	}
	for _, bad := range []string{"x.a", "d.=4", "d.=ZZ", "d.a=2"} {
		if k, err := certKey(bad); err == nil {
			t.Errorf("certKey(%q) = %q, want an error", bad, k)
		}
	}
}

func TestFilterIsAPrefixOfEveryKeyUnder(t *testing.T) {
	if got := filter(""); got != "d.>" {
		t.Errorf("filter(root) = %q", got)
	}
	if got := filter("a.b/c"); got != "d.a=2Eb.c.>" {
		t.Errorf("filter = %q", got)
	}
}

func cleanKey(k string) string { return strings.Join(segments(k), "/") }
