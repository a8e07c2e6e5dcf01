// Command sidehook is a full Caddy (the standard modules) with the sidehook module built in: every `caddy`
// subcommand works (run, adapt, validate, reload, list-modules…), plus `demo`, which shows sidehook end to end
// with nothing else installed.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/sidehook/sidehook"
)

func main() {
	caddycmd.Main()
}
