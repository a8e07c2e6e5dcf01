package caddymodule

import (
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// A secret written into the config as a runtime placeholder, {env.NAME} or {file./path}, stays a placeholder in
// the JSON config: `caddy adapt` prints it as written and Caddy's admin API (GET /config/) serves it as written,
// so neither carries the secret. It is replaced when the handler is provisioned, by a replacer that knows only
// the global placeholders (environment, files, system): nothing of a request can reach a secret. The
// Caddyfile's own {$NAME} form does the opposite, replacing at adapt time, so the secret ends up in the JSON.

// holdsPlaceholder reports whether a secret-bearing value is (or contains) a placeholder to be replaced at
// provision. A Standard Webhooks secret is "whsec_" and base64, which has no braces, so a brace means a
// placeholder; such a value is checked once replaced, not when the Caddyfile is adapted.
func holdsPlaceholder(v string) bool {
	return strings.ContainsRune(v, '{') && strings.ContainsRune(v, '}')
}

// resolveSecret replaces the runtime placeholders of a secret-bearing config value. A placeholder that Caddy
// does not know, or that comes out empty (an unset variable, an unreadable or empty file), is a config error:
// signing with an empty or literal "{env.X}" secret would only surface later as deliveries no receiver can
// verify. The error names the placeholder, never the value.
func resolveSecret(raw string) (string, error) {
	if !holdsPlaceholder(raw) {
		return raw, nil
	}
	return caddy.NewReplacer().ReplaceOrErr(raw, true, true)
}

// The OTYS merge fields of a webhook URL ({%user.clientId%}, {%user.internalId%}) are filled in per call, not at
// load, and Caddy's replacer would take them for unknown placeholders: they are set aside while a URL's runtime
// placeholders are replaced, as strings no URL can contain.
var (
	setMergeFieldsAside = strings.NewReplacer("{%user.clientId%}", "\x00clientId\x00", "{%user.internalId%}", "\x00internalId\x00")
	putMergeFieldsBack  = strings.NewReplacer("\x00clientId\x00", "{%user.clientId%}", "\x00internalId\x00", "{%user.internalId%}")
)

// urlHoldsPlaceholder reports whether a webhook URL holds a runtime placeholder (a basic-auth password from
// {env.NAME}, say), merge fields aside. Such a URL is checked once replaced, not when the Caddyfile is adapted.
func urlHoldsPlaceholder(raw string) bool {
	return holdsPlaceholder(setMergeFieldsAside.Replace(raw))
}

// resolveURL replaces the runtime placeholders of a static subscription's URL, whose userinfo may carry the
// receiver's basic-auth password, and keeps its merge fields for the calls to fill in.
func resolveURL(raw string) (string, error) {
	if !urlHoldsPlaceholder(raw) {
		return raw, nil
	}
	out, err := resolveSecret(setMergeFieldsAside.Replace(raw))
	if err != nil {
		return "", err
	}
	return putMergeFieldsBack.Replace(out), nil
}
