package natskv

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Every certmagic key lives under dataRoot and every lock under lockRoot, so that a List of the whole storage
// never shows a lock, and no key a caller can write is a lock's key.
const (
	dataRoot = "d"
	lockRoot = "l"
)

// errInvalidKey is a key that names nothing: empty, or the root.
var errInvalidKey = errors.New("natskv: empty key")

// segments splits a certmagic key into its path segments, cleaned as certmagic.FileStorage cleans a file
// name (so "a//b/" and "a/b" are one key on both backends); none for the root.
func segments(key string) []string {
	clean := strings.Trim(path.Clean("/"+key), "/")
	if clean == "" {
		return nil
	}
	return strings.Split(clean, "/")
}

// kvKey is the bucket key of a certmagic key under root: its segments escaped, joined with '.', so that
// each segment is one subject token and a prefix of segments is a subject filter (root.a.b.>).
func kvKey(root, key string) (string, error) {
	segs := segments(key)
	if len(segs) == 0 {
		return "", errInvalidKey
	}
	return joinKey(root, segs), nil
}

// filter is the subject filter of everything under prefix ("" for the whole storage).
func filter(prefix string) string {
	return joinKey(dataRoot, append(segments(prefix), ">"))
}

func joinKey(root string, segs []string) string {
	var b strings.Builder
	b.WriteString(root)
	for _, s := range segs {
		b.WriteByte('.')
		if s == ">" {
			b.WriteString(s)
		} else {
			escapeSegment(&b, s)
		}
	}
	return b.String()
}

// escapeSegment writes s with every byte outside [-_a-zA-Z0-9] as "=XX" (upper-case hex), '=' included, so
// that the result holds only bytes KV keys allow and no '.', and decodes back to s exactly. '.' is escaped
// because it separates subject tokens; an empty segment cannot occur (segments cleans them away).
func escapeSegment(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xF])
	}
}

// certKey decodes a bucket key under dataRoot back into its certmagic key.
func certKey(kvKey string) (string, error) {
	tokens := strings.Split(kvKey, ".")
	if len(tokens) < 2 || tokens[0] != dataRoot {
		return "", fmt.Errorf("natskv: %q is not a storage key", kvKey)
	}
	segs := make([]string, 0, len(tokens)-1)
	for _, tok := range tokens[1:] {
		s, err := unescapeSegment(tok)
		if err != nil {
			return "", fmt.Errorf("natskv: key %q: %w", kvKey, err)
		}
		segs = append(segs, s)
	}
	return strings.Join(segs, "/"), nil
}

func unescapeSegment(tok string) (string, error) {
	if !strings.Contains(tok, "=") {
		return tok, nil
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		if tok[i] != '=' {
			b.WriteByte(tok[i])
			continue
		}
		if i+2 >= len(tok) {
			return "", fmt.Errorf("truncated escape in %q", tok)
		}
		hi, ok1 := unhex(tok[i+1])
		lo, ok2 := unhex(tok[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("bad escape in %q", tok)
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
