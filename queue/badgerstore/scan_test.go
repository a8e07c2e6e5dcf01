package badgerstore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/sidehook/sidehook/queue/store"
)

// enqueueAt stores events with now as their due time.
func enqueueAt(t testing.TB, s *Store, now int64, events ...store.Event) {
	t.Helper()
	if _, err := s.Enqueue(context.Background(), events, time.Unix(0, now), testPolicy); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
}

// claimIDs claims up to max jobs of testURL due by now and returns their ids.
func claimIDs(t testing.TB, s *Store, now int64, max int) ([]store.Job, []string) {
	t.Helper()
	jobs, _, err := s.Claim(store.Destination(testURL), now, max)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return jobs, ids
}

// A job committed with a due time before the cursor (a slow commit racing a later one, a clock
// step) is claimed by the next Claim: its note moves the cursor back.
func TestCursorNeverPassesAnUnclaimedJob(t *testing.T) {
	s := openStore(t, "")
	now := time.Now().UnixNano()
	later, first, early := newEvent(testURL), newEvent(testURL), newEvent(testURL)
	enqueueAt(t, s, now+int64(time.Hour), later) // the destination has a key past the others
	enqueueAt(t, s, now, first)
	if _, ids := claimIDs(t, s, now, 10); len(ids) != 1 || ids[0] != first.ID {
		t.Fatalf("claimed %v, want %s: the cursor now sits on its key", ids, first.ID)
	}
	enqueueAt(t, s, now-int64(time.Second), early)
	if _, ids := claimIDs(t, s, now, 10); len(ids) != 1 || ids[0] != early.ID {
		t.Fatalf("claimed %v, want %s, due before the cursor", ids, early.ID)
	}
}

// Many callers enqueue while jobs are claimed and recorded: every job is claimed exactly once, and
// none is left behind the cursor.
func TestCursorKeepsEveryJobUnderConcurrentEnqueues(t *testing.T) {
	s := openStore(t, "")
	const events, callers = 1000, 8
	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		claimed sync.Map
		dup     atomic.Int64
	)
	claimer := func() {
		defer wg.Done()
		for !stop.Load() || s.jobs.Load() > 0 {
			jobs, _, err := s.Claim(store.Destination(testURL), time.Now().UnixNano(), 8)
			if err != nil {
				t.Error(err)
				return
			}
			var out []store.Outcome
			for _, j := range jobs {
				if _, seen := claimed.LoadOrStore(j.ID, true); seen {
					dup.Add(1)
				}
				out = append(out, deliveredNow(j))
			}
			if len(out) > 0 {
				if err := s.Record(out, testPolicy); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}
	var claimers sync.WaitGroup
	for range 2 {
		wg.Add(1)
		claimers.Add(1)
		go func() { defer claimers.Done(); claimer() }()
	}
	var enqueuers sync.WaitGroup
	for c := range callers {
		enqueuers.Add(1)
		go func() {
			defer enqueuers.Done()
			for i := c; i < events; i += callers {
				enqueue(t, s, newEvent(testURL))
			}
		}()
	}
	enqueuers.Wait()
	stop.Store(true)
	done := make(chan struct{})
	go func() { claimers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		stop.Store(true)
		t.Fatalf("jobs left unclaimed: %d", s.jobs.Load())
	}
	n := 0
	claimed.Range(func(any, any) bool { n++; return true })
	if n != events || dup.Load() != 0 {
		t.Errorf("%d distinct jobs claimed (%d twice), want %d once each", n, dup.Load(), events)
	}
}

// A job committed while a Claim scans (after its snapshot) with a due time before the job that
// Claim claims is claimed by the next Claim: the scan may not move the cursor past it (low).
func TestJobCommittedDuringAScanIsClaimedByTheNext(t *testing.T) {
	s := openStore(t, "")
	now := time.Now().UnixNano()
	first, racing := newEvent(testURL), newEvent(testURL)
	enqueueAt(t, s, now, first)
	var once sync.Once
	s.inScan = func() { once.Do(func() { enqueueAt(t, s, now-int64(time.Second), racing) }) }
	if _, ids := claimIDs(t, s, now, 10); len(ids) != 1 || ids[0] != first.ID {
		t.Fatalf("claimed %v, want only %s (the racing job is not in the snapshot)", ids, first.ID)
	}
	if _, ids := claimIDs(t, s, now, 10); len(ids) != 1 || ids[0] != racing.ID {
		t.Fatalf("claimed %v, want %s, committed during the previous scan", ids, racing.ID)
	}
}

// An outcome recorded while a Claim scans is not taken back by that scan: its snapshot still holds
// the old key and the pending state, but the claim ended during the pass (pass.ended).
func TestOutcomeRecordedDuringAScanIsNotClaimedAgain(t *testing.T) {
	s := openStore(t, "")
	now := time.Now().UnixNano()
	ev := newEvent(testURL)
	enqueueAt(t, s, now, ev)
	jobs, _ := claimIDs(t, s, now, 10)
	if len(jobs) != 1 {
		t.Fatalf("claimed %d jobs, want 1", len(jobs))
	}
	s.claims.cursorReset = 0 // every Claim starts at the first key, where the old key is
	var once sync.Once
	s.inScan = func() {
		once.Do(func() {
			if err := s.Record([]store.Outcome{deliveredNow(jobs[0])}, testPolicy); err != nil {
				t.Error(err)
			}
		})
	}
	if _, ids := claimIDs(t, s, now, 10); len(ids) != 0 {
		t.Fatalf("a Claim racing the outcome claimed %v again", ids)
	}
	if item := logOf(t, s, ev.ID); item.Status != store.StatusDelivered {
		t.Errorf("status %s, want delivered", item.Status)
	}
}

// A job whose outcome could not be recorded stays where it was, behind the cursor once a later job
// was claimed, and is announced again lostRetry later, not at once; the Claim after that finds it.
// lostRetry is an hour here, and the test fires its timer itself: a short one could fire before the
// "not at once" checks on a loaded machine.
func TestLostOutcomeIsDueAgainAfterLostRetry(t *testing.T) {
	s := openStore(t, "")
	s.claims.lostRetry = time.Hour
	var announced atomic.Int64
	s.Watch(func(string, int64) { announced.Add(1) })
	now := time.Now().UnixNano()
	a, b := newEvent(testURL), newEvent(testURL)
	enqueueAt(t, s, now, a)
	enqueueAt(t, s, now+1, b)
	ja, _ := claimIDs(t, s, now+1, 1)
	if _, ids := claimIDs(t, s, now+1, 1); len(ids) != 1 || ids[0] != b.ID {
		t.Fatalf("second Claim = %v, want %s: the cursor is past %s now", ids, b.ID, a.ID)
	}
	before := announced.Load()
	bad := deliveredNow(ja[0])
	bad.Status = store.StatusLimited // no attempt has this outcome: Record fails whole
	if err := s.Record([]store.Outcome{bad}, testPolicy); err == nil {
		t.Fatal("Record of an impossible outcome succeeded")
	}
	if got := announced.Load(); got != before {
		t.Fatalf("the lost job was announced at once (%d announcements)", got-before)
	}
	if _, ids := claimIDs(t, s, now+1, 10); len(ids) != 0 {
		t.Fatalf("claimed %v before the lost job was announced again, want nothing: it is behind the cursor", ids)
	}
	s.claims.mu.Lock()
	st := s.claims.dests[store.Destination(testURL)]
	scheduled := st != nil && st.lostSet && st.lostTimer != nil
	if scheduled {
		st.lostTimer.Reset(0) // lostRetry has passed
	}
	s.claims.mu.Unlock()
	if !scheduled {
		t.Fatal("no lost-retry timer for the job")
	}
	waitFor(t, 5*time.Second, func() bool { return announced.Load() > before })
	if _, ids := claimIDs(t, s, now+1, 10); len(ids) != 1 || ids[0] != a.ID {
		t.Fatalf("after the announce: claimed %v, want %s", ids, a.ID)
	}
}

// A Retry waits for the claim of its job, keeps the job from being claimed while it changes it,
// and the Claim after it finds the job at its new due time even though the cursor moved past it.
func TestRetryWaitsForTheClaim(t *testing.T) {
	s := openStore(t, "")
	now := time.Now().UnixNano()
	a, b := newEvent(testURL), newEvent(testURL)
	enqueueAt(t, s, now, a, b)
	jobs, _ := claimIDs(t, s, now, 1)
	done := make(chan error, 1)
	go func() {
		_, err := s.Retry(a.ID, time.Unix(0, now), testPolicy)
		done <- err
	}()
	waitFor(t, 5*time.Second, func() bool {
		s.claims.mu.Lock()
		defer s.claims.mu.Unlock()
		return s.claims.held[a.ID] > 0
	})
	select {
	case err := <-done:
		t.Fatalf("Retry returned (%v) while the job was claimed", err)
	default:
	}
	if _, ids := claimIDs(t, s, now, 10); len(ids) != 1 || ids[0] != b.ID {
		t.Fatalf("claimed %v while a Retry waits, want only %s", ids, b.ID)
	}
	s.Release(jobs)
	if err := <-done; err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if _, ids := claimIDs(t, s, now, 10); len(ids) != 1 || ids[0] != a.ID {
		t.Fatalf("after the Retry: claimed %v, want %s", ids, a.ID)
	}
}

// The periodic reset of a destination's cursor finds a job the cursor rules missed.
func TestCursorResetFindsAMissedJob(t *testing.T) {
	s := openStore(t, "")
	now := time.Now().UnixNano()
	ev := newEvent(testURL)
	enqueueAt(t, s, now, ev)
	s.claims.mu.Lock()
	st := s.claims.destLocked(store.Destination(testURL))
	st.cursor = seekKey(store.Destination(testURL), now+1) // as if a rule had been broken
	s.claims.mu.Unlock()
	if _, ids := claimIDs(t, s, now, 10); len(ids) != 0 {
		t.Fatalf("claimed %v from a cursor past the job", ids)
	}
	s.claims.cursorReset = 0
	if _, ids := claimIDs(t, s, now, 10); len(ids) != 1 {
		t.Fatalf("after the reset: claimed %v, want the job", ids)
	}
}

// A job key without its record is dropped, and the count of jobs with it.
func TestOrphanJobKeyIsDropped(t *testing.T) {
	s := openStore(t, "")
	now := time.Now().UnixNano()
	ev := newEvent(testURL)
	enqueueAt(t, s, now, ev)
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(recordKey(ev.ID)) }); err != nil {
		t.Fatal(err)
	}
	if _, ids := claimIDs(t, s, now, 10); len(ids) != 0 {
		t.Fatalf("claimed %v without a record", ids)
	}
	if n, _ := s.Jobs(); n != 0 {
		t.Errorf("Jobs = %d after the orphan was dropped, want 0", n)
	}
	if n, err := countJobs(s.db); err != nil || n != 0 {
		t.Errorf("%d job keys left (%v), want 0", n, err)
	}
}

// Claim stops after maxScanPerDestination keys and says there is more (next <= now).
func TestClaimBoundsItsScan(t *testing.T) {
	s := openStore(t, "")
	now := time.Now().UnixNano()
	var evs []store.Event
	for range maxScanPerDestination + 10 {
		evs = append(evs, newEvent(testURL))
	}
	enqueueAt(t, s, now, evs...)
	held := claimAll(t, s, testURL, now, 100)[:maxScanPerDestination+5]
	s.Release(held[maxScanPerDestination+1:]) // four unclaimed jobs past a thousand claimed ones
	s.claims.cursorReset = 0                  // scan from the first key
	jobs, next, err := s.Claim(store.Destination(testURL), now, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 0 || next == 0 || next > now {
		t.Errorf("Claim past the bound: %d jobs, next %d; want none and next due by %d", len(jobs), next, now)
	}
}
