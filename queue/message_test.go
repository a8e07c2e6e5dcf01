package queue

import (
	"regexp"
	"testing"
	"time"
)

func TestNewMessageID(t *testing.T) {
	shape := regexp.MustCompile(`^msg_[0-9A-HJKMNP-TV-Z]{26}$`)
	seen := map[string]bool{}
	prev := ""
	for i := range 1000 {
		id := NewMessageID()
		if !shape.MatchString(id) {
			t.Fatalf("id %q has the wrong shape", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		if i == 999 {
			prev = id
		}
	}
	later := time.Now().Add(2 * time.Millisecond)
	for time.Now().Before(later) {
		// busy-wait two milliseconds so the time prefix moves on
	}
	if next := NewMessageID(); next[:14] <= prev[:14] {
		t.Errorf("ids are not time-sortable: %s then %s", prev, next)
	}
}
