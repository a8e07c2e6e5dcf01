package caddymodule

import "strings"

// maskedPassword replaces a URL's password, as url.URL.Redacted writes it.
const maskedPassword = "xxxxx"

// splitUserinfo cuts raw (scheme://user:password@host/…) around the user and password of its userinfo;
// ok is false when it has no password. It works on the text rather than through url.Parse, so that URLs
// that do not parse (an OTYS merge field such as {%user.clientId%}) are handled too and nothing else about
// the URL is rewritten.
func splitUserinfo(raw string) (start, user, password, end string, ok bool) {
	scheme, rest, found := strings.Cut(raw, "://")
	if !found {
		return "", "", "", "", false
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return "", "", "", "", false
	}
	user, password, ok = strings.Cut(authority[:at], ":")
	return scheme + "://", user, password, rest[at:], ok
}

// maskURLPassword returns raw with the password of its userinfo replaced by "xxxxx"
// (https://hook:s3cret@example.org/x -> https://hook:xxxxx@example.org/x), like url.URL.Redacted, and raw
// unchanged when it has none. Operators see every client's webhook URLs on the admin API; a receiver's
// basic-auth password is that client's secret, not theirs to read.
func maskURLPassword(raw string) string {
	start, user, _, end, ok := splitUserinfo(raw)
	if !ok {
		return raw
	}
	return start + user + ":" + maskedPassword + end
}

// maskURLPasswordIn masks, in text (a delivered body, which carries its webhook URL inside a JSON string),
// every occurrence of rawURL's "user:password@"; text is returned unchanged when rawURL has no password. The
// body holds the userinfo as it is written in the URL: a userinfo that url.Parse accepts has no character
// that JSON escapes, and payloads are written without HTML escaping.
func maskURLPasswordIn(text, rawURL string) string {
	_, user, password, _, ok := splitUserinfo(rawURL)
	if !ok || password == "" {
		return text
	}
	return strings.ReplaceAll(text, user+":"+password+"@", user+":"+maskedPassword+"@")
}
