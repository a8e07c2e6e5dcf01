package matcher

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// secretPrefix marks a Standard Webhooks signing secret.
const secretPrefix = "whsec_"

// minSecretBytes is the Standard Webhooks minimum key size, and what NewSecret generates.
const minSecretBytes = 24

// uidBytes gives a UID of 32 hex characters: collisions are out of reach, and the UID is safe as
// a storage key on every backend.
const uidBytes = 16

// ErrInvalidSecret is wrapped by every error of ValidateSecret.
var ErrInvalidSecret = errors.New("invalid secret")

// NewSecret returns a fresh signing secret in the Standard Webhooks format:
// "whsec_" + base64(24 random bytes).
func NewSecret() (string, error) {
	key := make([]byte, minSecretBytes)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// ValidateSecret reports why s cannot sign deliveries, or nil: it must be "whsec_" followed by
// standard base64 of at least 24 bytes, which is what Standard Webhooks receivers decode. The
// error never contains the secret.
func ValidateSecret(s string) error {
	encoded, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return fmt.Errorf("%w: must start with %q", ErrInvalidSecret, secretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return fmt.Errorf("%w: not standard base64 after %q", ErrInvalidSecret, secretPrefix)
	}
	if len(key) < minSecretBytes {
		return fmt.Errorf("%w: key is %d bytes, need at least %d", ErrInvalidSecret, len(key), minSecretBytes)
	}
	return nil
}

// NewUID returns a fresh subscription UID: 32 lowercase hex characters.
func NewUID() (string, error) {
	b := make([]byte, uidBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate uid: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// validUID reports whether uid is safe as the last part of a storage key: non-empty lowercase
// letters, digits, '-' and '_' only, so it can neither escape the prefix nor collide after a
// backend's escaping.
func validUID(uid string) bool {
	if uid == "" || len(uid) > 128 {
		return false
	}
	for i := 0; i < len(uid); i++ {
		c := uid[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
