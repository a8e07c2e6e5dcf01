package caddymodule

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// presetAdapted adapts a Caddyfile site with the given sidehook lines exactly as `caddy adapt` does, and
// returns the sidehook handler as the JSON config carries it, then with the preset applied as Provision does.
func presetAdapted(t *testing.T, lines string) (adapted, provisioned Handler) {
	t.Helper()
	cfg := "http://127.0.0.1:9 {\n\tsidehook {\n" + lines + "\n\t}\n\treverse_proxy 127.0.0.1:8\n}\n"
	// Warnings (formatting) do not change the config; errors do.
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
	if err != nil {
		t.Fatalf("adapt: %v\n%s", err, cfg)
	}
	var doc any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	raw := presetFindHandler(doc)
	if raw == nil {
		t.Fatalf("no sidehook handler in the adapted config: %s", out)
	}
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &adapted); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &provisioned); err != nil {
		t.Fatal(err)
	}
	provisioned.applyPreset()
	return adapted, provisioned
}

// presetFindHandler walks the adapted JSON for the object with "handler":"sidehook".
func presetFindHandler(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		if x["handler"] == "sidehook" {
			return x
		}
		for _, c := range x {
			if found := presetFindHandler(c); found != nil {
				return found
			}
		}
	case []any:
		for _, c := range x {
			if found := presetFindHandler(c); found != nil {
				return found
			}
		}
	}
	return nil
}

// `preset otys` means exactly what docs/configuration.md lists; the adapted config stays as short as the
// Caddyfile (the preset is applied at Provision), so `caddy adapt` shows the line the user wrote.
func TestPresetOTYSIsExactlyTheSpec(t *testing.T) {
	adapted, got := presetAdapted(t, "\t\tpreset otys")
	if want := (Handler{Preset: "otys"}); !reflect.DeepEqual(adapted, want) {
		t.Errorf("adapted config %+v, want only the preset line %+v", adapted, want)
	}
	zero := 0
	want := Handler{
		Preset:       "otys",
		SessionParam: &zero,
		Identity:     &IdentityConfig{Resolve: &ResolveConfig{Method: "check", Client: "clientId", User: "id", Logout: []string{"logout", "*.logout"}}},
		Management:   &ManagementConfig{Service: "WebhooksService"},
		NeverFire:    []string{"login", "loginByUid", "loginAs", "logout", "check", "*.loginUser"},
		Multicall:    map[string]string{"Otys.Services.MultiService.execute": "otys"},
		Wrapper:      map[string]int{"Otys.Services.LanguageService.wrapRequest": 1},
		Fanout:       "one",
		Payload:      "otys",
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		t.Errorf("preset otys provisions\n%s\nwant\n%s", gb, wb)
	}
}

// Every value of the preset yields to a later line; maps merge, the user's entries winning; never_fire adds to
// the preset's list; what the user does not set still comes from the preset.
func TestPresetOTYSLaterLinesOverride(t *testing.T) {
	_, got := presetAdapted(t, `
		preset otys
		session_param 1
		identity {
			client {http.request.header.X-Client}
			user {http.request.header.X-User}
		}
		management Hooks
		never_fire Auth.login
		multicall Otys.Services.MultiService.execute xmlrpc
		multicall system.multicall xmlrpc
		wrapper Otys.Services.LanguageService.wrapRequest 2
		fanout all
		payload jsonrpc`)
	one := 1
	want := Handler{
		Preset:       "otys",
		SessionParam: &one,
		Identity:     &IdentityConfig{Client: "{http.request.header.X-Client}", User: "{http.request.header.X-User}"},
		Management:   &ManagementConfig{Service: "Hooks"},
		NeverFire:    []string{"login", "loginByUid", "loginAs", "logout", "check", "*.loginUser", "Auth.login"}, // adds up
		Multicall:    map[string]string{"Otys.Services.MultiService.execute": "xmlrpc", "system.multicall": "xmlrpc"},
		Wrapper:      map[string]int{"Otys.Services.LanguageService.wrapRequest": 2},
		Fanout:       "all",
		Payload:      "jsonrpc",
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		t.Errorf("overridden preset provisions\n%s\nwant\n%s", gb, wb)
	}

	// One override leaves the rest of the preset in place.
	_, partial := presetAdapted(t, "\t\tpreset otys\n\t\tfanout all\n\t\tmulticall system.multicall xmlrpc")
	if partial.Fanout != "all" || partial.Payload != "otys" || partial.SessionParam == nil || *partial.SessionParam != 0 ||
		partial.Management == nil || len(partial.NeverFire) != 6 ||
		!reflect.DeepEqual(partial.Multicall, map[string]string{"Otys.Services.MultiService.execute": "otys", "system.multicall": "xmlrpc"}) {
		t.Errorf("preset otys + fanout all: %+v", partial)
	}
}
