package storetest

import (
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

func watchRules() []rule {
	return []rule{
		{"WatchAnnouncesExistingAndNewJobs", watchAnnouncesExistingAndNewJobs},
		{"WatchAnnouncesJobsDueAgain", watchAnnouncesJobsDueAgain},
	}
}

// Watch announces every destination with jobs at once, and Enqueue announces the new ones.
func watchAnnouncesExistingAndNewJobs(t *testing.T, s *suite) {
	st := s.open(t)
	t.Cleanup(func() { _ = st.Close() })
	a, b := event(destURL(1)), event(destURL(2))
	if _, err := st.Enqueue(t.Context(), []store.Event{a, b}, time.Unix(0, at(0)), policy); err != nil {
		t.Fatal(err)
	}
	w := &watcher{}
	st.Watch(w.due)
	for _, ev := range []store.Event{a, b} {
		if !w.announced(store.Destination(ev.URL), at(0), 0) {
			t.Errorf("Watch did not announce %s due by %d: %+v", store.Destination(ev.URL), at(0), w.calls)
		}
	}
	c := event(destURL(3))
	mark := w.mark()
	if _, err := st.Enqueue(t.Context(), []store.Event{c}, time.Unix(0, at(time.Minute)), policy); err != nil {
		t.Fatal(err)
	}
	if !w.announced(store.Destination(c.URL), at(time.Minute), mark) {
		t.Errorf("Enqueue did not announce its destination: %+v", w.calls)
	}
}

// Release, a retrying outcome and Retry announce the job's destination by its new due time.
func watchAnnouncesJobsDueAgain(t *testing.T, s *suite) {
	f := s.newFixture(t)
	ev := event(destURL(1))
	dest := store.Destination(ev.URL)
	f.enqueue(at(0), policy, ev)
	j := f.claimOne(ev.URL, at(0), ev.ID)
	mark := f.watch.mark()
	f.store.Release([]store.Job{j})
	if !f.watch.announced(dest, at(0), mark) {
		t.Errorf("Release did not announce the job: %+v", f.watch.calls)
	}
	j = f.claimOne(ev.URL, at(0), ev.ID)
	mark = f.watch.mark()
	f.record(retrying(j, at(time.Second), at(time.Hour)))
	if !f.watch.announced(dest, at(time.Hour), mark) {
		t.Errorf("a retrying outcome did not announce NextDue: %+v", f.watch.calls)
	}
	mark = f.watch.mark()
	if _, err := f.store.Retry(ev.ID, time.Unix(0, at(time.Minute)), policy); err != nil {
		t.Fatal(err)
	}
	if !f.watch.announced(dest, at(time.Minute), mark) {
		t.Errorf("Retry did not announce the job: %+v", f.watch.calls)
	}
}
