package caddymodule

import (
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// `logout <pattern>…` inside `resolve` is read into the JSON config as written (repeated lines add up); with
// `preset otys` the preset's logout patterns come first and the user's are added, not replacing them.
func TestResolveLogoutParses(t *testing.T) {
	lines := `
		session_param 0
		identity {
			resolve check {
				client clientId
				logout Auth.signOut *.logout
				logout Session.end
			}
		}`
	adapted, _ := presetAdapted(t, lines)
	if want := []string{"Auth.signOut", "*.logout", "Session.end"}; adapted.Identity == nil || adapted.Identity.Resolve == nil ||
		!reflect.DeepEqual(adapted.Identity.Resolve.Logout, want) {
		t.Fatalf("adapted identity %+v, want logout %v", adapted.Identity, want)
	}
	_, withPreset := presetAdapted(t, "\t\tpreset otys"+lines)
	if want := []string{"logout", "*.logout", "Auth.signOut", "*.logout", "Session.end"}; !reflect.DeepEqual(withPreset.Identity.Resolve.Logout, want) {
		t.Fatalf("with the preset: logout %v, want %v", withPreset.Identity.Resolve.Logout, want)
	}
}

// A bad logout line fails adapt with a message that says what is wrong.
func TestResolveLogoutConfigErrors(t *testing.T) {
	for name, c := range map[string]struct{ line, says string }{
		"no pattern":  {"logout", "wrong argument count"},
		"bad pattern": {"logout Auth..signOut", "segment"},
	} {
		cfg := "http://127.0.0.1:9 {\n\tsidehook {\n\t\tsession_param 0\n\t\tidentity {\n\t\t\tresolve check {\n\t\t\t\tclient clientId\n\t\t\t\t" +
			c.line + "\n\t\t\t}\n\t\t}\n\t}\n\treverse_proxy 127.0.0.1:8\n}\n"
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: adapt error %v, want one that says %q", name, err, c.says)
		}
	}
}
