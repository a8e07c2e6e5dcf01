// Package storetest checks a store.Store against the contract written in package store: one
// subtest per rule, named after it. Every implementation runs it in its own tests:
//
//	storetest.Run(t, func(t *testing.T) store.Store { return openMine(t) }, storetest.WithReopen(reopenMine))
//
// The suite drives the store the way the engine does (Watch, then Enqueue, Claim, Record,
// Release, Retry) with explicit times, so it needs no clock of its own and no sleeps.
package storetest

import (
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store"
)

// Open makes a new, empty store for one subtest; the store is closed by the suite.
type Open func(t *testing.T) store.Store

// Reopen closes s and opens the same data again, as a restarted process would.
type Reopen func(t *testing.T, s store.Store) store.Store

// Option adds what a store can offer to the suite.
type Option func(*suite)

// WithReopen lets the suite check the rules about a restart (durability, claims lost with their
// process). Without it those subtests are skipped.
func WithReopen(reopen Reopen) Option { return func(s *suite) { s.reopen = reopen } }

type suite struct {
	open   Open
	reopen Reopen
}

// rule is one subtest: a rule of the contract and its check.
type rule struct {
	name string
	run  func(t *testing.T, s *suite)
}

// Run runs every rule of the contract against stores made by open.
func Run(t *testing.T, open Open, opts ...Option) {
	s := &suite{open: open}
	for _, o := range opts {
		o(s)
	}
	for _, r := range rules() {
		t.Run(r.name, func(t *testing.T) { r.run(t, s) })
	}
}

func rules() []rule {
	var all []rule
	all = append(all, enqueueRules()...)
	all = append(all, claimRules()...)
	all = append(all, recordRules()...)
	all = append(all, retryRules()...)
	all = append(all, logRules()...)
	all = append(all, watchRules()...)
	return all
}

// fixture is one store under test with its watcher.
type fixture struct {
	t     *testing.T
	s     *suite
	store store.Store
	watch *watcher
}

// newFixture opens a store, watches it and closes it at the end of the test.
func (s *suite) newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, s: s, store: s.open(t), watch: &watcher{}}
	f.store.Watch(f.watch.due)
	t.Cleanup(func() { _ = f.store.Close() })
	return f
}

// restart reopens the store (the suite has a Reopen) and watches it again.
func (f *fixture) restart() {
	f.t.Helper()
	f.store = f.s.reopen(f.t, f.store)
	f.watch = &watcher{}
	f.store.Watch(f.watch.due)
	st := f.store
	f.t.Cleanup(func() { _ = st.Close() })
}

// needsReopen skips a rule about restarts for a store the suite cannot reopen.
func needsReopen(t *testing.T, s *suite) {
	t.Helper()
	if s.reopen == nil {
		t.Skip("the store under test has no Reopen (WithReopen)")
	}
}

// watcher records what the store announced.
type watcher struct {
	mu    sync.Mutex
	calls []announcement
}

type announcement struct {
	dest string
	due  int64
}

func (w *watcher) due(dest string, due int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, announcement{dest, due})
}

// announced reports whether dest was announced due at or before due since the mark.
func (w *watcher) announced(dest string, due int64, since int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.calls[min(since, len(w.calls)):] {
		if a.dest == dest && a.due <= due {
			return true
		}
	}
	return false
}

// mark is where announcements after now start.
func (w *watcher) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.calls)
}

// base is the suite's clock: every time is explicit, so stores need no clock of their own.
var base = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// at is base plus d, as unix ns.
func at(d time.Duration) int64 { return base.Add(d).UnixNano() }

var policy = store.Policy{KeepLogs: time.Hour, PendingSpan: time.Hour}

// idSeq makes ids unique and increasing within one process.
var idSeq atomic.Uint64

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newID is an id of the engine's form ("msg_" and 26 time-sortable base32 characters): stores may
// rely on it (a sweep by age).
func newID() string {
	var raw [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		raw[i] = byte(ms)
		ms >>= 8
	}
	seq := idSeq.Add(1)
	for i := 9; i >= 6; i-- {
		raw[i] = byte(seq)
		seq >>= 8
	}
	_, _ = rand.Read(raw[10:])
	out := []byte("msg_")
	var bits, n uint
	var acc uint64
	// 128 bits as 26 characters: 2 leading zero bits, then 5 bits each.
	n = 2
	for _, b := range raw {
		acc = acc<<8 | uint64(b)
		bits += 8
		for bits+n >= 5 {
			shift := bits + n - 5
			out = append(out, crockford[(acc>>shift)&31])
			bits, n = shift, 0
			acc &= 1<<bits - 1
		}
	}
	return string(out)
}

// destURL is the webhook URL of destination number n (its host:port differs per n).
func destURL(n int) string { return fmt.Sprintf("http://127.0.0.1:%d/hook", 40000+n) }

// event is a new event for url with a small distinct body.
func event(url string) store.Event {
	id := newID()
	return store.Event{ID: id, SubscriptionUID: "sub", ClientID: "42", UserID: "7", URL: url,
		Body: []byte(`{"id":"` + id + `"}`), Created: base.UnixNano()}
}
