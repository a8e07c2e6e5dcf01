// Package sidehook plugs sidehook into a Caddy build: importing it registers the `sidehook` HTTP handler
// (http.handlers.sidehook), its Caddyfile directive, the `sidehook` app and the admin API module
// (admin.api.sidehook). It is what `xcaddy build --with github.com/sidehook/sidehook` imports.
//
// The code lives in caddymodule (the Caddy face) and in proxy, matcher and queue below it.
package sidehook

import (
	// Registers the Caddy modules.
	_ "github.com/sidehook/sidehook/caddymodule"
)
