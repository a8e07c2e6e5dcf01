package queue

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func TestSign(t *testing.T) {
	body := []byte(`{"x":1}`)
	ts := time.Now().Unix()
	tests := []struct {
		name    string
		secrets []string
		entries int
		wantErr bool
	}{
		{"one", []string{testSecret}, 1, false},
		{"two", []string{testSecret, testSecret2}, 2, false},
		{"none", nil, 0, true},
		{"not base64", []string{"whsec_***"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := Sign("msg_1", ts, body, tt.secrets)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Sign err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), "***") {
					t.Errorf("error leaks the secret: %v", err)
				}
				return
			}
			if n := len(strings.Fields(sig)); n != tt.entries {
				t.Fatalf("%d entries, want %d", n, tt.entries)
			}
			h := http.Header{}
			h.Set("webhook-id", "msg_1")
			h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
			h.Set("webhook-signature", sig)
			for _, s := range tt.secrets {
				wh, _ := standardwebhooks.NewWebhook(s)
				if err := wh.Verify(body, h); err != nil {
					t.Errorf("verify with %s...: %v", s[:8], err)
				}
			}
			wh, _ := standardwebhooks.NewWebhook(testSecret)
			if err := wh.Verify([]byte(`{"x":2}`), h); err == nil {
				t.Error("a changed body still verifies")
			}
		})
	}
}
