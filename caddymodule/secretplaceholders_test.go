package caddymodule

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/sidehook/sidehook/matcher"
)

// adaptSubscribeWithSecret adapts a site whose sidehook block has one `subscribe` line with the given secret.
func adaptSubscribeWithSecret(t *testing.T, secret string) ([]byte, error) {
	t.Helper()
	src := fmt.Sprintf(`{
	storage file_system %s
}
http://127.0.0.1:9 {
	sidehook {
		queue_dir %s
		subscribe CandidateService.update https://hooks.example.org/c {
			secret %s
		}
	}
	reverse_proxy 127.0.0.1:8
}
`, filepath.Join(t.TempDir(), "storage"), filepath.Join(t.TempDir(), "queue"), secret)
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), map[string]any{"filename": "Caddyfile"})
	return out, err
}

// validateAdapted provisions an adapted config without starting it, as `caddy validate` does.
func validateAdapted(t *testing.T, adapted []byte) error {
	t.Helper()
	var cfg caddy.Config
	if err := json.Unmarshal(adapted, &cfg); err != nil {
		t.Fatal(err)
	}
	return caddy.Validate(&cfg)
}

// A `secret {env.NAME}` or `secret {file./path}` is adapted as written: the JSON config (what `caddy adapt` prints
// and the admin API serves) holds the placeholder and not the secret, and the config validates because the
// placeholder is replaced when the handler is provisioned.
func TestSubscribeSecretPlaceholderIsAdaptedAsWritten(t *testing.T) {
	secret, err := matcher.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIDEHOOK_TEST_SUBSCRIBE_SECRET", secret)
	secretFile := filepath.Join(t.TempDir(), "hook-secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, placeholder := range []string{"{env.SIDEHOOK_TEST_SUBSCRIBE_SECRET}", "{file." + secretFile + "}"} {
		out, err := adaptSubscribeWithSecret(t, placeholder)
		if err != nil {
			t.Fatalf("%s: adapt: %v", placeholder, err)
		}
		if strings.Contains(string(out), secret) {
			t.Errorf("%s: the adapted config carries the secret: %s", placeholder, out)
		}
		if !strings.Contains(string(out), `"secret":"`+placeholder+`"`) {
			t.Errorf("%s: the adapted config does not hold the placeholder as written: %s", placeholder, out)
		}
		if err := validateAdapted(t, out); err != nil {
			t.Errorf("%s: validate: %v", placeholder, err)
		}
	}
}

// A placeholder that comes out empty, unknown, or as something that is not a signing secret fails the config
// when it is loaded, naming the placeholder and never the value it held.
func TestSubscribeSecretPlaceholderErrors(t *testing.T) {
	const notASecret = "hunter2-not-a-whsec"
	t.Setenv("SIDEHOOK_TEST_SUBSCRIBE_BAD", notASecret)
	t.Setenv("SIDEHOOK_TEST_SUBSCRIBE_EMPTY", "")
	missing := filepath.Join(t.TempDir(), "no-such-file")
	cases := []struct{ placeholder, want string }{
		{"{env.SIDEHOOK_TEST_SUBSCRIBE_EMPTY}", "{env.SIDEHOOK_TEST_SUBSCRIBE_EMPTY}"},
		{"{file." + missing + "}", "{file." + missing + "}"},
		{"{sidehook.no_such_placeholder}", "{sidehook.no_such_placeholder}"},
		{"{env.SIDEHOOK_TEST_SUBSCRIBE_BAD}", "whsec_"},
	}
	for _, c := range cases {
		out, err := adaptSubscribeWithSecret(t, c.placeholder)
		if err != nil {
			t.Fatalf("%s: adapt: %v (a placeholder is checked when the config loads, not at adapt)", c.placeholder, err)
		}
		err = validateAdapted(t, out)
		if err == nil {
			t.Errorf("%s: the config validated; want an error", c.placeholder)
			continue
		}
		if !strings.Contains(err.Error(), "subscribe CandidateService.update") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not name the subscription and %q", c.placeholder, err, c.want)
		}
		if strings.Contains(err.Error(), notASecret) {
			t.Errorf("%s: error %q carries the value", c.placeholder, err)
		}
	}
}

// A literal secret that is not a signing secret still fails at adapt, naming the subscribe block (its closing
// brace, line 9, is where the block is checked), as before placeholders were allowed.
func TestSubscribeLiteralBadSecretStillFailsAdapt(t *testing.T) {
	if _, err := adaptSubscribeWithSecret(t, "whsec_tooshort"); err == nil || !strings.Contains(err.Error(), "Caddyfile:9") {
		t.Errorf("want an adapt error naming Caddyfile:9, got %v", err)
	}
}

// A static subscription's URL may carry its receiver's basic-auth password as a placeholder: the JSON config
// keeps the placeholder, and the merge fields stay for each call to fill in.
func TestSubscribeURLPasswordPlaceholderIsAdaptedAsWritten(t *testing.T) {
	t.Setenv("SIDEHOOK_TEST_HOOK_PASSWORD", "pw-from-env-9f3")
	written := "https://hook:{env.SIDEHOOK_TEST_HOOK_PASSWORD}@hooks.example.org/{%user.clientId%}"
	src := fmt.Sprintf("http://127.0.0.1:9 {\n\tsidehook {\n\t\tqueue_dir %s\n\t\tsubscribe CandidateService.update %s {\n\t\t\tsecret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\t\t}\n\t}\n\treverse_proxy 127.0.0.1:8\n}\n",
		filepath.Join(t.TempDir(), "queue"), written)
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	if strings.Contains(string(out), "pw-from-env-9f3") || !strings.Contains(string(out), `"url":"`+written+`"`) {
		t.Errorf("the adapted config should hold the URL as written: %s", out)
	}
	got, err := resolveURL(written)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://hook:pw-from-env-9f3@hooks.example.org/{%user.clientId%}"; got != want {
		t.Errorf("resolved URL %q, want %q", got, want)
	}
	if _, err := resolveURL("https://hook:{env.SIDEHOOK_TEST_UNSET_PASSWORD}@hooks.example.org/"); err == nil ||
		!strings.Contains(err.Error(), "{env.SIDEHOOK_TEST_UNSET_PASSWORD}") {
		t.Errorf("an unset variable: want an error naming it, got %v", err)
	}
}
