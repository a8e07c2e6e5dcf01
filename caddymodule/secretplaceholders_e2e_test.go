package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// adminConfig is the running config as Caddy's admin API serves it (GET /config/).
func adminConfig(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://localhost:%d/config/", adminPort))
	if err != nil {
		t.Fatalf("admin GET /config/: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("admin GET /config/: %d %v", resp.StatusCode, err)
	}
	return string(body)
}

// deliverWithSecretFrom loads a `subscribe` line whose secret is the given placeholder, makes one subscribed
// call, and checks that the delivery verifies with the harness's secret (which the placeholder stands for) while
// the admin API's copy of the config holds the placeholder and not the secret.
func deliverWithSecretFrom(t *testing.T, h *harness, placeholder string) {
	t.Helper()
	h.load(`
		preset otys
		subscribe CandidateService.update {recv}/hooks/candidates {
			secret ` + placeholder + `
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	if cfg := adminConfig(t); strings.Contains(cfg, h.secret) || !strings.Contains(cfg, placeholder) {
		t.Errorf("the admin API's config should hold %s and not the secret: %s", placeholder, cfg)
	}
	sess := h.login()
	status, resp := h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[%q,"cand-1",{}],"id":7}`, sess))
	if status != http.StatusOK {
		t.Fatalf("call failed: %d %s", status, resp)
	}
	got := h.recv.waitCount(t, 1)
	verify(t, h.secret, got[0])
}

// `secret {env.NAME}`: deliveries are signed with the environment variable's value at load time.
func TestSubscribeSecretFromEnvSignsDeliveries(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	t.Setenv("SIDEHOOK_TEST_HOOK_SECRET", h.secret)
	deliverWithSecretFrom(t, h, "{env.SIDEHOOK_TEST_HOOK_SECRET}")
}

// `secret {file./path}`: deliveries are signed with the file's content (its trailing newline dropped).
func TestSubscribeSecretFromFileSignsDeliveries(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	path := filepath.Join(t.TempDir(), "hook-secret")
	if err := os.WriteFile(path, []byte(h.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deliverWithSecretFrom(t, h, "{file."+path+"}")
}

// `subscribe <pattern> http://hook:{env.NAME}@…`: the receiver gets the variable's value as its basic-auth
// password, and the admin API's config holds the placeholder, not the password.
func TestSubscribeURLPasswordFromEnvReachesTheReceiver(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	const password = "receiver-pw-7c1"
	t.Setenv("SIDEHOOK_TEST_RECEIVER_PASSWORD", password)
	withPassword := strings.Replace(h.recv.srv.URL, "http://", "http://hook:{env.SIDEHOOK_TEST_RECEIVER_PASSWORD}@", 1)
	h.load(`
		preset otys
		subscribe CandidateService.update ` + withPassword + `/hooks/candidates {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	if cfg := adminConfig(t); strings.Contains(cfg, password) {
		t.Errorf("the admin API's config carries the password: %s", cfg)
	}
	sess := h.login()
	if status, resp := h.post(fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[%q,"cand-1",{}],"id":7}`, sess)); status != http.StatusOK {
		t.Fatalf("call failed: %d %s", status, resp)
	}
	got := h.recv.waitCount(t, 1)
	req := http.Request{Header: got[0].Header}
	user, pw, ok := req.BasicAuth()
	if !ok || user != "hook" || pw != password {
		t.Errorf("receiver's basic auth = %q, %q, %v; want hook, the variable's value", user, pw, ok)
	}
	verify(t, h.secret, got[0])
}
