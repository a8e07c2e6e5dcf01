package caddymodule

import (
	"testing"

	"github.com/sidehook/sidehook/matcher"
)

// The uid a `subscribe` line gets is stored with every job queued for it: it must be matcher.StaticUID's, in
// the format queued jobs already carry.
func TestCompileStaticGivesTheUIDStoredWithQueuedJobs(t *testing.T) {
	h := &Handler{Subscribe: []StaticSubscription{{
		Pattern: "CandidateService.update", URL: "https://hooks.example.com/x", Secret: goodSecret, Client: "42", User: "7",
	}}}
	subs, err := h.compileStatic()
	if err != nil {
		t.Fatal(err)
	}
	const stored = "static_e6b12f1bcb29587fd984df45" // the same golden value as matcher's test
	if subs[0].UID != stored {
		t.Errorf("uid = %q, want %q", subs[0].UID, stored)
	}
	if want := matcher.StaticUID("CandidateService.update", "https://hooks.example.com/x", "42", "7"); subs[0].UID != want {
		t.Errorf("uid = %q, matcher.StaticUID gives %q", subs[0].UID, want)
	}
	if !matcher.IsStaticUID(subs[0].UID) {
		t.Errorf("uid %q is not recognised as static: its log items would not be the operator's", subs[0].UID)
	}
}
