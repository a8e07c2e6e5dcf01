package caddymodule

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// parseSidehook runs the Caddyfile parser on one `sidehook { … }` block.
func parseSidehook(t *testing.T, body string) (*Handler, error) {
	t.Helper()
	h := new(Handler)
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("sidehook {\n" + body + "\n}"))
	return h, err
}

// A JSON config never goes through the Caddyfile parser: its static subscription without a secret must get
// the same clear error as the Caddyfile line, not an error about the shape of an empty secret.
func TestJSONStaticSubscriptionWithoutSecretGetsTheCaddyfileError(t *testing.T) {
	const want = "subscribe A.b https://hooks.example.org/x: a secret (whsec_…) is required so receivers can verify deliveries"
	_, caddyfileErr := parseSidehook(t, "subscribe A.b https://hooks.example.org/x")
	if caddyfileErr == nil {
		t.Fatal("the Caddyfile parser accepted a subscribe line without a secret")
	}
	h := &Handler{Subscribe: []StaticSubscription{{Pattern: "A.b", URL: "https://hooks.example.org/x"}}}
	_, err := h.compileStatic()
	if err == nil || err.Error() != want {
		t.Errorf("compileStatic error = %v, want %q", err, want)
	}
}

// Every static subscription check the Caddyfile parser makes, Provision makes too, with the same message, for
// the same JSON; the parser points at the line, Provision names the pattern (and the URL for the secret).
func TestStaticSubscriptionChecksAreTheSameInCaddyfileAndJSON(t *testing.T) {
	for _, sub := range []StaticSubscription{
		{Pattern: "Candidate..update", URL: "https://hooks.example.org/x", Secret: goodSecret},
		{Pattern: "A.b", URL: "/hook", Secret: goodSecret},
		{Pattern: "A.b", URL: "https:///x", Secret: goodSecret},
		{Pattern: "A.b", URL: "https://hooks.example.org/x", Secret: "whsec_c2hvcnQ="},
		{Pattern: "A.b", URL: "https://hooks.example.org/x", Secret: "not-a-secret"},
	} {
		_, caddyfileErr := parseSidehook(t, "subscribe "+sub.Pattern+" "+sub.URL+" {\nsecret "+sub.Secret+"\n}")
		if caddyfileErr == nil {
			t.Errorf("%+v: the Caddyfile parser accepted it", sub)
			continue
		}
		h := &Handler{Subscribe: []StaticSubscription{sub}}
		_, err := h.compileStatic()
		if err == nil {
			t.Errorf("%+v: Provision accepted what the Caddyfile refused (%v)", sub, caddyfileErr)
			continue
		}
		check, _, _ := strings.Cut(strings.TrimPrefix(caddyfileErr.Error(), "subscribe: "), ", at Testfile:")
		if !strings.HasPrefix(err.Error(), "subscribe "+sub.Pattern) || !strings.HasSuffix(err.Error(), ": "+check) {
			t.Errorf("%+v:\nCaddyfile: %v\nJSON:      %v", sub, caddyfileErr, err)
		}
	}
}

// `payload` accepts in the Caddyfile exactly what Provision accepts in JSON, where an empty value is the
// default (the field is omitted).
func TestPayloadCaddyfileAcceptsWhatProvisionAccepts(t *testing.T) {
	for value, ok := range map[string]bool{"": true, "otys": true, "jsonrpc": true, "xml": false, "OTYS": false} {
		_, caddyfileErr := parseSidehook(t, `payload "`+value+`"`)
		_, provisionErr := payloadBuilder(value)
		if (caddyfileErr == nil) != ok || (provisionErr == nil) != ok {
			t.Errorf("payload %q: Caddyfile error %v, Provision error %v; want accepted = %v", value, caddyfileErr, provisionErr, ok)
		}
	}
}

// `multicall` accepts in the Caddyfile exactly the shapes Provision accepts in JSON, with the same message.
func TestMulticallCaddyfileAcceptsWhatProvisionAccepts(t *testing.T) {
	for shape, ok := range map[string]bool{"otys": true, "xmlrpc": true, "json": false, "": false} {
		_, caddyfileErr := parseSidehook(t, `multicall system.multicall "`+shape+`"`)
		_, provisionErr := (&Handler{Multicall: map[string]string{"system.multicall": shape}}).compileNesting()
		if (caddyfileErr == nil) != ok || (provisionErr == nil) != ok {
			t.Errorf("multicall %q: Caddyfile error %v, Provision error %v; want accepted = %v", shape, caddyfileErr, provisionErr, ok)
		}
	}
}
