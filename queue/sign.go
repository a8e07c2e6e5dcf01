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
	signed := msgID + "." + strconv.FormatInt(ts, 10) + "."
	entries := make([]string, 0, len(secrets))
	for i, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
		if err != nil || len(key) == 0 {
			return "", fmt.Errorf("sign: secret %d is not base64 after %q", i+1, secretPrefix)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(signed))
		mac.Write(body)
		entries = append(entries, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(entries, " "), nil
}
