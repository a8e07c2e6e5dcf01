package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The README's first command works: the demo runs end to end and says so.
func TestDemoRunsEndToEnd(t *testing.T) {
	p := runSidehook(t, t.TempDir(), "demo")
	if code := p.exitCode(90 * time.Second); code != 0 {
		t.Fatalf("demo exited %d:\n%s", code, p.output.String())
	}
	out := p.output.String()
	for _, want := range []string{"signature verified", "Demo complete: 2 webhooks delivered"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SIGNATURE DID NOT VERIFY") {
		t.Errorf("a demo signature did not verify:\n%s", out)
	}
}

// Config errors fail `caddy adapt` and `caddy validate` with the line that holds them.
func TestConfigErrorsNameTheLine(t *testing.T) {
	const head = "http://127.0.0.1:9 {\n\tsidehook {\n"
	const tail = "\t}\n\treverse_proxy 127.0.0.1:1\n}\n"
	secret := "whsec_c2lkZWhvb2stdGVzdC1zZWNyZXQtMzItYnl0ZXMhIQ=="
	cases := []struct {
		name, body, want string
		line             int
	}{
		{"unknown subdirective", "\t\tfrobnicate yes\n", "unknown sidehook subdirective", 3},
		{"bad duration", "\t\tdelivery {\n\t\t\ttimeout 5parsecs\n\t\t}\n", "bad duration", 4},
		{"bad retry", "\t\tdelivery {\n\t\t\tretry 1s soon\n\t\t}\n", "bad duration", 4},
		{"bad URL", "\t\tsubscribe echo ftp://example.com/x {\n\t\t\tsecret " + secret + "\n\t\t}\n", "absolute http or https URL", 3},
		{"relative URL", "\t\tsubscribe echo /hooks {\n\t\t\tsecret " + secret + "\n\t\t}\n", "absolute http or https URL", 3},
		{"missing secret", "\t\tsubscribe echo https://example.com/x\n", "secret", 3},
		{"bad pattern", "\t\tnever_fire Cand*.update\n", "", 3},
		{"bad fanout", "\t\tfanout some\n", "fanout must be all or one", 3},
		{"bad size", "\t\tmax_body lots\n", "max_body", 3},
		{"bad CIDR", "\t\tdelivery {\n\t\t\tallow_destination 10.0.0.0/99\n\t\t}\n", "allow_destination", 4},
		{"missing argument", "\t\tqueue_dir\n", "wrong argument count", 3},
	}
	home := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(home, strings.ReplaceAll(c.name, " ", "_")+".Caddyfile")
			if err := os.WriteFile(path, []byte(head+c.body+tail), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, sub := range []string{"adapt", "validate"} {
				p := runSidehook(t, home, sub, "--config", path, "--adapter", "caddyfile")
				code := p.exitCode(30 * time.Second)
				out := p.output.String()
				if code == 0 {
					t.Fatalf("%s accepted a bad config:\n%s", sub, out)
				}
				wantLine := filepath.Base(path) + ":" + strconv.Itoa(c.line)
				if !strings.Contains(out, wantLine) || !strings.Contains(out, c.want) {
					t.Errorf("%s: want an error naming %s and %q, got:\n%s", sub, wantLine, c.want, out)
				}
			}
		})
	}
}

// Caddyfile.example is a working config: it validates (with its storage paths moved into the test's directory).
func TestCaddyfileExampleValidates(t *testing.T) {
	home := t.TempDir()
	example, err := os.ReadFile("../../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.ReplaceAll(string(example), "/var/lib/sidehook", home)
	path := filepath.Join(home, "Caddyfile")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := "SIDEHOOK_CANDIDATE_SECRET=whsec_c2lkZWhvb2stdGVzdC1zZWNyZXQtMzItYnl0ZXMhIQ=="
	p := runSidehookEnv(t, home, []string{secret}, "validate", "--config", path, "--adapter", "caddyfile")
	if code := p.exitCode(60 * time.Second); code != 0 || !strings.Contains(p.output.String(), "Valid configuration") {
		t.Fatalf("Caddyfile.example does not validate (exit %d):\n%s", code, p.output.String())
	}
}
