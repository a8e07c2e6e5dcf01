package proxy

import (
	"slices"
	"testing"
)

// What one importer does with the default keys it was given (append to them, overwrite one) never reaches the
// next caller: each call hands out its own slice, so no package can loosen redaction for every handler.
func TestDefaultRedactKeysCannotBeChangedByACaller(t *testing.T) {
	want := []string{"password", "passwd", "secret", "token", "apikey", "api_key", "authorization"}
	keys := DefaultRedactKeys()
	if !slices.Equal(keys, want) {
		t.Fatalf("DefaultRedactKeys() = %v, want %v", keys, want)
	}
	keys[0] = "not-a-secret"
	_ = append(keys[:1], "overwritten-by-append")
	if got := DefaultRedactKeys(); !slices.Equal(got, want) {
		t.Errorf("after a caller changed its copy, DefaultRedactKeys() = %v, want %v", got, want)
	}
}
