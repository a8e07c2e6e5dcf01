package queue

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

const secretPrefix = "whsec_"

// Sign computes the webhook-signature header value for the given secrets
// ("whsec_…"): one "v1,<base64 HMAC-SHA256>" entry per secret, space
// separated, as Standard Webhooks receivers expect while a rotated secret
// is still in its grace period. Errors never contain a secret.
func Sign(msgID string, ts int64, body []byte, secrets []string) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("sign: no signing secret")
	}
	// One buffer for the signed prefix and every entry: this runs once per
	// attempt, and a drain makes tens of thousands a second.
	var buf [128]byte
	prefix := strconv.AppendInt(append(append(buf[:0], msgID...), '.'), ts, 10)
	prefix = append(prefix, '.')
	n := len(prefix)
	out := prefix[n:]
	var sum [sha256.Size]byte
	for i, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
		if err != nil || len(key) == 0 {
			return "", fmt.Errorf("sign: secret %d is not base64 after %q", i+1, secretPrefix)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(prefix[:n])
		mac.Write(body)
		if i > 0 {
			out = append(out, ' ')
		}
		out = base64.StdEncoding.AppendEncode(append(out, "v1,"...), mac.Sum(sum[:0]))
	}
	return string(out), nil
}
