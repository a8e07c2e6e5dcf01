package queue

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store"
	"github.com/sidehook/sidehook/queue/store/memstore"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
)

// Tests of the invariants the scheduler relies on (scheduler.go lists them).

// concurrency counts requests being answered at once, and the most seen.
type concurrency struct {
	now, most atomic.Int64
}

func (c *concurrency) enter() {
	n := c.now.Add(1)
	for {
		m := c.most.Load()
		if n <= m || c.most.CompareAndSwap(m, n) {
			return
		}
	}
}

func (c *concurrency) leave() { c.now.Add(-1) }

// slowReceiver answers 200 after a short delay (a receiver with some latency), counting into c.
func slowReceiver(t *testing.T, c *concurrency) *receiver {
	return newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		c.enter()
		defer c.leave()
		<-time.After(5 * time.Millisecond) // the receiver's latency, not synchronisation
		w.WriteHeader(http.StatusOK)
	})
}

func TestNeverMoreThanPerDestinationAttemptsAtOnce(t *testing.T) {
	var c concurrency
	rc := slowReceiver(t, &c)
	q := newTestQueue(t)
	cfg := testConfig()
	cfg.Workers, cfg.PerDestination = 8, 3
	q.Configure(cfg, newFakeEndpoints())
	const events = 60
	var msgs []Message
	for range events {
		msgs = append(msgs, newMessage(rc.srv.URL))
	}
	enqueue(t, q, msgs...)
	waitFor(t, 20*time.Second, func() bool { return q.Stats().Delivered == events })
	if most := c.most.Load(); most > int64(cfg.PerDestination) {
		t.Errorf("%d attempts of one destination at once, PerDestination %d", most, cfg.PerDestination)
	}
	if n := rc.count(); n != events {
		t.Errorf("receiver got %d requests for %d events", n, events)
	}
}

func TestNeverMoreThanWorkersAttemptsAtOnce(t *testing.T) {
	var c concurrency
	q := newTestQueue(t)
	cfg := testConfig()
	cfg.Workers, cfg.PerDestination = 3, 2
	q.Configure(cfg, newFakeEndpoints())
	const perReceiver = 20
	var msgs []Message
	for range 4 { // four destinations of two slots each: eight slots, three workers
		rc := slowReceiver(t, &c)
		for range perReceiver {
			msgs = append(msgs, newMessage(rc.srv.URL))
		}
	}
	enqueue(t, q, msgs...)
	waitFor(t, 20*time.Second, func() bool { return q.Stats().Delivered == uint64(len(msgs)) })
	if most := c.most.Load(); most > int64(cfg.Workers) {
		t.Errorf("%d attempts at once, Workers %d", most, cfg.Workers)
	}
}

// Jobs claimed ahead are given back to the store when delivery is paused: once the attempts in flight are
// over, the store holds every job that was not delivered, unclaimed.
func TestClaimedAheadJobsAreReleasedWhenPaused(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		<-release
		w.WriteHeader(http.StatusOK)
	})
	q, st := newTestQueueOn(t)
	t.Cleanup(unblock)
	cfg := testConfig()
	cfg.Workers, cfg.PerDestination = 4, 2
	q.Configure(cfg, newFakeEndpoints())
	const events = 20
	var msgs []Message
	for range events {
		msgs = append(msgs, newMessage(rc.srv.URL))
	}
	enqueue(t, q, msgs...)
	waitFor(t, 5*time.Second, func() bool {
		q.sched.mu.Lock()
		defer q.sched.mu.Unlock()
		return rc.count() == 2 && q.sched.ahead > 0
	})
	cfg.Paused = true
	q.Configure(cfg, newFakeEndpoints())
	waitFor(t, 5*time.Second, func() bool {
		q.sched.mu.Lock()
		defer q.sched.mu.Unlock()
		return q.sched.ahead == 0
	})
	unblock()
	waitFor(t, 5*time.Second, func() bool { return q.Stats().InFlight == 0 && q.Stats().Delivered == 2 })
	dest := store.Destination(rc.srv.URL)
	jobs, _, err := st.Claim(dest, time.Now().UnixNano(), events)
	if err != nil || len(jobs) != events-2 {
		t.Fatalf("the store holds %d unclaimed due jobs (%v), want %d: jobs claimed ahead were kept while paused", len(jobs), err, events-2)
	}
	st.Release(jobs)
}

// An outcome's slot is freed (or handed on) before the outcome is recorded: when the recorder reports an
// outcome, the attempt no longer counts as in flight, and Depth + InFlight is what the store holds.
func TestARecordedOutcomeNeverCountsAsInFlight(t *testing.T) {
	rc := newReceiver(t, statuses(200))
	q := newTestQueue(t)
	cfg := testConfig()
	cfg.Workers, cfg.PerDestination = 1, 1
	var mu sync.Mutex
	var seen []Stats
	cfg.OnAttempt = func(AttemptInfo) { // called once the outcome is recorded
		s := q.Stats()
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
	}
	q.Configure(cfg, newFakeEndpoints())
	for i := range 5 {
		enqueue(t, q, newMessage(rc.srv.URL))
		waitFor(t, 5*time.Second, func() bool { return q.Stats().Delivered == uint64(i+1) })
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 5 {
		t.Fatalf("OnAttempt called %d times, want 5", len(seen))
	}
	for i, s := range seen {
		if s.InFlight != 0 {
			t.Errorf("attempt %d: %d in flight once its outcome was recorded, want 0", i, s.InFlight)
		}
	}
}

// gatedStore is a memory store whose Writable the test decides, counting how often it is asked.
type gatedStore struct {
	*memstore.Store
	writable atomic.Bool
	asked    atomic.Int64
}

func (g *gatedStore) Writable() bool {
	g.asked.Add(1)
	return g.writable.Load()
}

func TestNoAttemptStartsWhileTheStoreIsNotWritable(t *testing.T) {
	rc := newReceiver(t, statuses(200))
	st := &gatedStore{Store: memstore.New()}
	q := New(st, zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel)))
	t.Cleanup(func() { _ = q.Close() })
	q.Configure(testConfig(), newFakeEndpoints())
	msgs := []Message{newMessage(rc.srv.URL), newMessage(rc.srv.URL), newMessage(rc.srv.URL)}
	enqueue(t, q, msgs...)
	// The scheduler looks again every diskRecheck: after several looks, still nothing was attempted.
	asked := st.asked.Load()
	waitFor(t, 5*time.Second, func() bool { return st.asked.Load() >= asked+3 })
	if n := rc.count(); n != 0 {
		t.Fatalf("%d attempts while the store was not writable", n)
	}
	if s := q.Stats(); s.Depth != 3 || s.InFlight != 0 {
		t.Errorf("stats while not writable = %+v, want 3 waiting", s)
	}
	st.writable.Store(true)
	waitFor(t, 5*time.Second, func() bool { return q.Stats().Delivered == 3 })
}

// Close waits for the attempts in flight and records their outcomes before it closes the store.
func TestCloseWaitsForAttemptsInFlight(t *testing.T) {
	rc, unblock := newFirstHangsReceiver(t)
	st := memstore.New()
	q := New(st, zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel)))
	t.Cleanup(unblock)
	cfg := testConfig()
	cfg.Timeout = 30 * time.Second
	q.Configure(cfg, newFakeEndpoints())
	msg := newMessage(rc.srv.URL)
	enqueue(t, q, msg)
	waitFor(t, 5*time.Second, func() bool { return rc.count() == 1 })
	closed := make(chan error, 1)
	go func() { closed <- q.Close() }()
	waitFor(t, 5*time.Second, q.closed.Load)
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while an attempt was in flight", err)
	default:
	}
	unblock()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	item, ok, err := st.Log(msg.ID)
	if err != nil || !ok || item.Status != StatusDelivered {
		t.Errorf("after Close the log says %q (found %v, %v); want the attempt's outcome recorded", item.Status, ok, err)
	}
}

// When Workers is what limits, a destination with a long backlog gives its slots up to another
// destination's jobs as they finish, instead of keeping them until its backlog is drained.
func TestABusyDestinationYieldsWorkersToAnother(t *testing.T) {
	var c concurrency
	busy := slowReceiver(t, &c)
	other := newReceiver(t, statuses(200))
	q := newTestQueue(t)
	cfg := testConfig()
	cfg.Workers, cfg.PerDestination = 4, 4
	q.Configure(cfg, newFakeEndpoints())
	const backlog = 400
	var msgs []Message
	for range backlog {
		msgs = append(msgs, newMessage(busy.srv.URL))
	}
	enqueue(t, q, msgs...)
	waitFor(t, 5*time.Second, func() bool { return busy.count() >= 4 })
	late := newMessage(other.srv.URL)
	enqueue(t, q, late)
	waitFor(t, 20*time.Second, statusIs(t, q, late.ID, StatusDelivered))
	// With the slot handed back, the other job goes within a few of the busy destination's attempts;
	// without, it waits until the busy destination's claimed-ahead jobs happen to run out.
	if n := busy.count(); n >= backlog/10 {
		t.Errorf("the other destination's job waited for %d of the busy destination's attempts", n)
	}
}

// stalledStore is a memory store whose Record waits until the test lets it go.
type stalledStore struct {
	*memstore.Store
	proceed chan struct{}
}

func (s *stalledStore) Record(outcomes []store.Outcome, p store.Policy) error {
	<-s.proceed
	return s.Store.Record(outcomes, p)
}

// Outcomes waiting for their Record bound the claims: while the store is slow to record, the engine stops
// claiming (and so attempting) more once maxCommitting outcomes wait, instead of piling up attempts.
func TestClaimsStopWhileOutcomesWaitForTheirRecord(t *testing.T) {
	rc := newReceiver(t, statuses(200))
	st := &stalledStore{Store: memstore.New(), proceed: make(chan struct{})}
	q := New(st, zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel)))
	var once sync.Once
	proceed := func() { once.Do(func() { close(st.proceed) }) }
	t.Cleanup(func() { proceed(); _ = q.Close() })
	cfg := testConfig()
	cfg.Workers, cfg.PerDestination = 2, 2
	q.Configure(cfg, newFakeEndpoints())
	const events = 50
	var msgs []Message
	for range events {
		msgs = append(msgs, newMessage(rc.srv.URL))
	}
	enqueue(t, q, msgs...)
	// Once as many outcomes wait as the bound allows and nothing runs or waits claimed ahead, nothing
	// can be claimed until a Record ends.
	var waiting int
	waitFor(t, 5*time.Second, func() bool {
		q.sched.mu.Lock()
		defer q.sched.mu.Unlock()
		waiting = q.sched.committing
		return waiting >= maxCommitting(q.config()) && q.sched.running == 0 && q.sched.ahead == 0
	})
	if n := rc.count(); n != waiting || n >= events {
		t.Fatalf("%d attempts made, %d outcomes waiting for their Record; want the claims stopped", n, waiting)
	}
	proceed()
	waitFor(t, 10*time.Second, func() bool { return q.Stats().Delivered == events })
}

// The bodies of jobs claimed ahead stay near maxAheadBytes however many destinations wait: past it only
// jobs that start at once are claimed.
func TestBodiesClaimedAheadStayBounded(t *testing.T) {
	release := make(chan struct{})
	hang := func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	q := newTestQueue(t)
	cfg := testConfig()
	cfg.Workers, cfg.PerDestination = 8, 1
	cfg.Timeout = 30 * time.Second
	q.Configure(cfg, newFakeEndpoints())
	const bodySize = 2 << 20
	body := make([]byte, bodySize)
	var receivers []*receiver
	for range 4 {
		rc := newReceiver(t, hang)
		receivers = append(receivers, rc)
		var msgs []Message
		for range 3 {
			m := newMessage(rc.srv.URL)
			m.Body = body
			msgs = append(msgs, m)
		}
		enqueue(t, q, msgs...)
	}
	// Registered after the queue's and the receivers', so it runs first: they wait for the hanging attempts.
	t.Cleanup(func() { close(release) })
	waitFor(t, 10*time.Second, func() bool {
		for _, rc := range receivers {
			if rc.count() == 0 {
				return false
			}
		}
		return true
	})
	q.sched.mu.Lock()
	held, ahead := q.sched.aheadBytes, q.sched.ahead
	q.sched.mu.Unlock()
	// One claim may take the total past the bound, by at most a destination's room ahead.
	if most := maxAheadBytes + aheadCap(q.config())*bodySize; held > most {
		t.Errorf("%d jobs claimed ahead hold %d bytes of bodies, want at most %d", ahead, held, most)
	}
}

// A Claim that found no more due jobs raises its destination's due time, unless an announcement arrived while
// it ran: the announced job may be one the Claim did not see, and raising past it would strand it.
func TestAnAnnouncementDuringAClaimIsNeverLost(t *testing.T) {
	s := newScheduler(nil)
	const dest = "127.0.0.1:9"
	s.note(dest, 100)
	d := s.dests[dest]

	before := d.version // a Claim starts...
	s.note(dest, 150)   // ...a job is announced meanwhile...
	d.settle(before, true, 0)
	if d.due > 150 {
		t.Errorf("due %d after a Claim that raced an announcement of a job due at 150", d.due)
	}

	quiet := d.version
	d.settle(quiet, true, 0)
	if d.due != noDue {
		t.Errorf("due %d after a Claim that found nothing and raced nothing, want none", d.due)
	}
	s.note(dest, 300)
	d.settle(d.version, true, 200)
	if d.due != 200 {
		t.Errorf("due %d, want the next due time the store reported", d.due)
	}
}
