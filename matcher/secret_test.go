package matcher

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func TestNewSecretIsAStandardWebhooksSecret(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateSecret(secret); err != nil {
		t.Fatalf("ValidateSecret(NewSecret()) = %v", err)
	}
	other, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if other == secret {
		t.Fatal("two NewSecret calls returned the same secret")
	}
	// The reference library must accept it and verify what it signs with it.
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("standardwebhooks.NewWebhook: %v", err)
	}
	body := []byte(`{"event":"CandidateService.update"}`)
	now := time.Now()
	sig, err := wh.Sign("msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestValidateSecret(t *testing.T) {
	tests := []struct {
		secret string
		valid  bool
	}{
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8G", true}, // 33 bytes
		{"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", true},         // exactly 24 bytes
		{"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", false},        // 22 bytes
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8G", false},      // no prefix
		{"whsec_not base64 at all!!", false},
		{"whsec_", false},
		{"", false},
	}
	for _, tt := range tests {
		err := ValidateSecret(tt.secret)
		if (err == nil) != tt.valid {
			t.Errorf("ValidateSecret(%q) = %v, want valid=%v", tt.secret, err, tt.valid)
		}
		if err != nil && !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("ValidateSecret(%q) = %v, does not wrap ErrInvalidSecret", tt.secret, err)
		}
	}
}

func TestNewUID(t *testing.T) {
	uid, err := NewUID()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(uid) {
		t.Errorf("NewUID() = %q, want 32 lowercase hex characters", uid)
	}
	if !validUID(uid) {
		t.Errorf("validUID(NewUID()) = false")
	}
}

func TestSigningSecrets(t *testing.T) {
	s := &Subscription{Secret: "new", PreviousSecret: "old", PreviousSecretUntil: epoch}
	tests := []struct {
		now  time.Time
		want []string
	}{
		{epoch.Add(-time.Second), []string{"new", "old"}},
		{epoch, []string{"new"}},
		{epoch.Add(time.Hour), []string{"new"}},
	}
	for _, tt := range tests {
		if got := s.SigningSecrets(tt.now); strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("SigningSecrets(%v) = %v, want %v", tt.now, got, tt.want)
		}
	}
	if got := (&Subscription{Secret: "only"}).SigningSecrets(epoch); len(got) != 1 || got[0] != "only" {
		t.Errorf("SigningSecrets without a previous secret = %v", got)
	}
}
