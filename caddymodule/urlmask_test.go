package caddymodule

import "testing"

func TestMaskURLPasswordMasksOnlyThePassword(t *testing.T) {
	for raw, want := range map[string]string{
		"https://hook:s3cret@example.org/x?a=1&b=2":         "https://hook:xxxxx@example.org/x?a=1&b=2",
		"https://hook:p@ss@example.org/x":                   "https://hook:xxxxx@example.org/x",
		"https://:s3cret@example.org":                       "https://:xxxxx@example.org",
		"https://hook:s3cret@example.org/{%user.clientId%}": "https://hook:xxxxx@example.org/{%user.clientId%}",
		"https://hook@example.org/x":                        "https://hook@example.org/x",
		"https://example.org/x?u=a:b@c":                     "https://example.org/x?u=a:b@c",
		"https://example.org/x#a:b@c":                       "https://example.org/x#a:b@c",
		"not a url":                                         "not a url",
	} {
		if got := maskURLPassword(raw); got != want {
			t.Errorf("maskURLPassword(%q) = %q, want %q", raw, got, want)
		}
	}
	body := `{"webhook":{"url":"https://hook:a&b@example.org/x"},"again":"https://hook:a&b@example.org"}`
	want := `{"webhook":{"url":"https://hook:xxxxx@example.org/x"},"again":"https://hook:xxxxx@example.org"}`
	rawURL := "https://hook:a&b@example.org/x"
	if got := maskURLPasswordIn(body, rawURL); got != want {
		t.Errorf("maskURLPasswordIn = %s, want %s", got, want)
	}
}
