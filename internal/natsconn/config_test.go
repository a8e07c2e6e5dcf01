package natsconn

import (
	"strings"
	"testing"
)

func TestValidateRejectsWhatCannotWork(t *testing.T) {
	ok := Config{URLs: []string{"nats://127.0.0.1:4222"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, c := range map[string]Config{
		"no urls":          {},
		"token and user":   {URLs: ok.URLs, Token: "t", User: "u"},
		"user and creds":   {URLs: ok.URLs, User: "u", CredsFile: "c"},
		"cert without key": {URLs: ok.URLs, CertFile: "c"},
	} {
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "nats: ") {
			t.Errorf("%s: %v, want a nats: error", name, err)
		}
	}
	if _, err := (Config{}).Connect("test"); err == nil {
		t.Error("Connect without URLs: no error")
	}
}
