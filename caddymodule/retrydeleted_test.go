package caddymodule_test

import "testing"

// retry of a log item whose subscription was deleted is a JSON-RPC error that says so, and nothing is queued
// or re-delivered: the item stays as it was.
func TestRetryOfDeletedSubscriptionIsAnError(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(mgConfig)
	sess := h.login()
	uid := mgAdd(t, h, sess, "CandidateService.update", h.recv.srv.URL+"/deleted", nil)
	mgFire(t, h, sess, 1)
	h.settled(1)
	items := mgResult(t, mgCall(t, h.port, mgService+"getLogs", sess), "getLogs").Array()
	if len(items) != 1 {
		t.Fatalf("getLogs: %d items, want 1", len(items))
	}
	id := items[0].Get("id").String()
	mgResult(t, mgCall(t, h.port, mgService+"delete", sess, uid), "delete")

	mgWantError(t, mgCall(t, h.port, mgService+"retry", sess, id), mgNotFound, "retry of a deleted subscription's item", uid, "deleted")
	if s := h.stats(); s.Depth != 0 || s.InFlight != 0 || s.Delivered != 1 {
		t.Fatalf("the refused retry queued a delivery: %+v", s)
	}
	after := mgResult(t, mgCall(t, h.port, mgService+"getLogs", sess), "getLogs after").Array()
	if len(after) != 1 || after[0].Get("status").String() != "delivered" || after[0].Get("attempts").Int() != 1 {
		t.Fatalf("the refused retry changed the item: %v", after)
	}
	if got := h.recv.deliveries(); len(got) != 1 {
		t.Fatalf("%d deliveries, want the first one only", len(got))
	}
}
