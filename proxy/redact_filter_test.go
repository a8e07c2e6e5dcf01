package proxy

import (
	"strings"
	"testing"
)

// redactKeys skips the walk when its filter says no key can be in raw; it must return exactly what the walk
// returns, for every raw and every set of keys.
func FuzzRedactKeysFilter(f *testing.F) {
	deep := strings.Repeat("[", maxRedactDepth+1) + "1" + strings.Repeat("]", maxRedactDepth+1)
	for _, raw := range []string{
		`["s",1234,{"Person":{"firstName":"Ada","email":"ada@example.com"}}]`,
		`{"Password":"x"}`, `{"pass\u0077ord":"x"}`, `{"PASSWORD":{"a":1}}`, `{"ſecret":"x"}`, `{"to` + "\u212a" + `en":"x"}`,
		`{"a":"password"}`, `{"":1}`, deep, `{"x":` + deep + `}`, `[1,"{",{"token":2}]`, `"secret"`, `null`, `{"a":[{"apikey":1}]}`,
	} {
		f.Add(raw, "password,secret,token,apikey")
		f.Add(raw, "")
		f.Add(raw, "ſecret")
	}
	f.Fuzz(func(t *testing.T, raw, keyList string) {
		if !validJSON([]byte(raw)) {
			return // redaction only ever sees valid JSON (params and results of validated bodies)
		}
		var keys []string
		if keyList != "" {
			keys = strings.Split(keyList, ",")
		}
		if got, want := redactKeys(raw, keys, 0), redactKeysWalk(raw, keys, 0); got != want {
			t.Fatalf("redactKeys(%q, %q) = %q, the walk says %q", raw, keys, got, want)
		}
	})
}

func TestKeyFilterLetsEveryPossibleKeyThrough(t *testing.T) {
	keys := DefaultRedactKeys()
	for _, raw := range []string{`{"PassWord":1}`, `{"a":{"b":{"Authorization":1}}}`, `{"to\u006ben":1}`, `{"Ke` + "\u212a" + `":1}`} {
		if !mayHoldKey(raw, keys) {
			t.Errorf("mayHoldKey(%s) = false", raw)
		}
	}
	if mayHoldKey(`["s3ss10n",1234,{"Person":{"firstName":"Ada","lastName":"Lovelace"}}]`, keys) {
		t.Error("mayHoldKey of params without any key = true, want false")
	}
}
