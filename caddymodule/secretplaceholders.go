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
