package matcher

import "testing"

// staticUIDGolden is the uid of CandidateService.update -> https://hooks.example.com/x for client 42, user 7, as
// the running path has always stored it with queued jobs and log items. If this test fails, the format changed
// and every job queued by an older version would lose its subscription.
const staticUIDGolden = "static_e6b12f1bcb29587fd984df45"

func TestStaticUIDKeepsTheFormatStoredWithQueuedJobs(t *testing.T) {
	got := StaticUID("CandidateService.update", "https://hooks.example.com/x", "42", "7")
	if got != staticUIDGolden {
		t.Errorf("StaticUID = %q, want %q", got, staticUIDGolden)
	}
	if !IsStaticUID(got) {
		t.Errorf("IsStaticUID(%q) = false", got)
	}
	if !validUID(got) {
		t.Errorf("StaticUID gives %q, which validUID rejects", got)
	}
	// Each field counts, and the separator keeps shifted fields apart.
	for _, other := range []string{
		StaticUID("CandidateService.update", "https://hooks.example.com/x", "42", ""),
		StaticUID("CandidateService.update", "https://hooks.example.com/x", "4", "27"),
		StaticUID("CandidateService.delete", "https://hooks.example.com/x", "42", "7"),
	} {
		if other == got {
			t.Errorf("different subscriptions share the uid %q", got)
		}
	}
}

func TestIsStaticUIDRejectsDynamicUIDs(t *testing.T) {
	uid, err := NewUID()
	if err != nil {
		t.Fatal(err)
	}
	if IsStaticUID(uid) {
		t.Errorf("IsStaticUID(%q) = true for a dynamic uid", uid)
	}
}

// A static subscription handed to the store without a uid gets the uid the Caddy module gives the same
// subscription: one derivation, so a job queued under either finds the subscription again, and its log
// items are recognised as the operator's.
func TestStoreDerivesAMissingStaticUIDLikeTheCaddyModule(t *testing.T) {
	static := &Subscription{ServiceCall: "CandidateService.update", WebhookURL: "https://hooks.example.com/x", ClientID: "42", UserID: "7", Secret: staticSecret}
	s, _ := newTestStore(t, fileStorage(t.TempDir()), static)
	subs := s.List("42")
	if len(subs) != 1 {
		t.Fatalf("List(42) = %d subscriptions, want 1", len(subs))
	}
	if subs[0].UID != staticUIDGolden {
		t.Errorf("static uid = %q, want %q", subs[0].UID, staticUIDGolden)
	}
}
