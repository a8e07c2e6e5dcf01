package jsstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sidehook/sidehook/internal/natstest"
	"github.com/sidehook/sidehook/queue/store"
)

var policy = store.Policy{KeepLogs: time.Hour, PendingSpan: time.Hour}

const hookURL = "http://127.0.0.1:40001/hook"

// Two stores on one cluster, as two processes would be, claiming one destination's jobs from several
// goroutines each: every job is claimed exactly once.
func TestTwoStoresNeverClaimTheSameJob(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	cfg := testConfig(c.URLs(), 3)
	a, b := openStore(t, cfg), openStore(t, cfg)
	const events = 200
	var evs []store.Event
	for i := range events {
		evs = append(evs, event(i, hookURL))
	}
	if _, err := a.Enqueue(context.Background(), evs, time.Now(), policy); err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for _, s := range []*Store{a, b, a, b, a, b} {
		wg.Go(func() {
			for range events { // bounded: each round claims a job or stops
				jobs, _, err := s.Claim(store.Destination(hookURL), time.Now().UnixNano(), 4)
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				mu.Lock()
				for _, j := range jobs {
					seen[j.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != events {
		t.Errorf("%d distinct jobs claimed, want %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
}

// A store's watch hears of jobs another process enqueued, released or moved.
func TestWatchHearsOtherStores(t *testing.T) {
	srv := natstest.StartNode(t)
	cfg := testConfig([]string{srv.URL()}, 1)
	writer, listener := openStore(t, cfg), openStore(t, cfg)
	w := &watcher{}
	listener.Watch(w.due)
	dest := store.Destination(hookURL)
	mark := w.mark()
	if _, err := writer.Enqueue(context.Background(), []store.Event{event(1, hookURL)}, time.Now(), policy); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the enqueue announced to the other store", func() bool { return w.announced(dest, mark) })
	jobs, _, err := writer.Claim(dest, time.Now().UnixNano(), 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Claim = %d jobs, %v", len(jobs), err)
	}
	mark = w.mark()
	next := time.Now().Add(time.Hour).UnixNano()
	o := store.Outcome{Job: jobs[0], Status: store.StatusRetrying, Attempts: 1, NextDue: next, End: time.Now().UnixNano()}
	if err := writer.Record([]store.Outcome{o}, policy); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the retry announced to the other store", func() bool { return w.announcedAt(dest, next, mark) })
}

// With one node of three SIGKILLed, an R3 Enqueue still returns once its events are stored (a quorum of
// two), and they survive: a new connection finds them while another node is down. The first node killed leads
// the jobs stream, so the Enqueue also rides out the election of a new leader (its writes are republished,
// deduplicated by event id).
func TestEnqueueIsDurableWithANodeDown(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	cfg := testConfig(c.URLs(), 3)
	// Raft elects a new leader 4 to 9 seconds after losing one, again if a vote splits: Enqueue waits that out.
	cfg.RequestTimeout = 30 * time.Second
	s := openStore(t, cfg)
	streams := streamsOf(t, s)
	leader := nodeLeading(t, c, streams[0])
	leader.Kill(t)
	var evs []store.Event
	for i := range 50 {
		evs = append(evs, event(i, hookURL))
	}
	if _, err := s.Enqueue(context.Background(), evs, time.Now(), policy); err != nil {
		t.Fatalf("Enqueue with the jobs stream's leader down: %v", err)
	}
	leader.Restart(t)
	c.WaitReady(t)
	// Kill another node, preferably one that leads none of the streams (no election to wait for).
	other := nodeLeadingLeast(t, c, streams, leader)
	other.Kill(t)
	waitForLeaders(t, s.js, streams, other.Name)
	again := openStore(t, cfg)
	if n, err := again.Jobs(); err != nil || n != len(evs) {
		t.Fatalf("Jobs on a new connection with another node down = %d, %v; want %d", n, err, len(evs))
	}
	jobs, _, err := again.Claim(store.Destination(hookURL), time.Now().UnixNano(), 100)
	if err != nil || len(jobs) != len(evs) {
		t.Fatalf("claimed %d jobs, %v; want %d", len(jobs), err, len(evs))
	}
}

// nodeLeading is the node that leads stream.
func nodeLeading(t *testing.T, c *natstest.Cluster, stream jetstream.Stream) *natstest.Server {
	t.Helper()
	info, err := stream.Info(t.Context())
	if err != nil || info.Cluster == nil {
		t.Fatalf("stream info: %v", err)
	}
	for _, n := range c.Nodes {
		if n.Name == info.Cluster.Leader {
			return n
		}
	}
	t.Fatalf("stream led by %q, which is no node of the cluster", info.Cluster.Leader)
	return nil
}

// nodeLeadingLeast is the node other than except that leads the fewest of streams.
func nodeLeadingLeast(t *testing.T, c *natstest.Cluster, streams []jetstream.Stream, except *natstest.Server) *natstest.Server {
	t.Helper()
	led := map[string]int{}
	for _, st := range streams {
		led[nodeLeading(t, c, st).Name]++
	}
	var best *natstest.Server
	for _, n := range c.Nodes {
		if n != except && (best == nil || led[n.Name] < led[best.Name]) {
			best = n
		}
	}
	return best
}

// Two stores racing for one client's daily limit of 10 with 30 events queue exactly 10.
func TestDailyLimitIsExactAcrossStores(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	cfg := testConfig(c.URLs(), 3)
	a, b := openStore(t, cfg), openStore(t, cfg)
	p := policy
	p.DailyLimit = 10
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		queued int
	)
	now := time.Now()
	for i := range 30 {
		s := []*Store{a, b}[i%2]
		wg.Go(func() {
			res, err := s.Enqueue(context.Background(), []store.Event{event(i, hookURL)}, now, p)
			if err != nil {
				t.Errorf("Enqueue: %v", err)
				return
			}
			if res.Queued[0] {
				mu.Lock()
				queued++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if queued != p.DailyLimit {
		t.Errorf("%d of 30 events queued under a limit of %d", queued, p.DailyLimit)
	}
	if n, err := a.Jobs(); err != nil || n != p.DailyLimit {
		t.Errorf("Jobs = %d, %v; want %d", n, err, p.DailyLimit)
	}
}

// Writable is false while every node is down and true again once the cluster is back.
func TestWritableFollowsTheCluster(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	s := openStore(t, testConfig(c.URLs(), 3))
	if !s.Writable() {
		t.Fatal("not writable on a healthy cluster")
	}
	for _, n := range c.Nodes {
		n.Kill(t)
	}
	waitFor(t, 10*time.Second, "Writable false with every node down", func() bool { return !s.Writable() })
	c.RestartAll(t)
	waitFor(t, 30*time.Second, "Writable true after the restart", s.Writable)
	if _, err := s.Enqueue(context.Background(), []store.Event{event(1, hookURL)}, time.Now(), policy); err != nil {
		t.Errorf("Enqueue once writable again: %v", err)
	}
}

// streamsOf are the streams of s's buckets, looked up while the cluster is whole.
func streamsOf(t *testing.T, s *Store) []jetstream.Stream {
	t.Helper()
	streams := []jetstream.Stream{s.b.jobsStream}
	for _, kv := range []jetstream.KeyValue{s.b.events, s.b.logs, s.b.limits} {
		st, err := s.js.Stream(t.Context(), "KV_"+kv.Bucket())
		if err != nil {
			t.Fatalf("stream of %s: %v", kv.Bucket(), err)
		}
		streams = append(streams, st)
	}
	return streams
}

// waitForLeaders waits until none of streams is led by the node dead and the cluster has a meta leader (which
// creating a consumer needs): the live nodes noticed the loss and elected new leaders. Raft's election timeout
// is seconds, and a request meanwhile would time out.
func waitForLeaders(t *testing.T, js jetstream.JetStream, streams []jetstream.Stream, dead string) {
	t.Helper()
	waitFor(t, 30*time.Second, "a meta leader after "+dead+"'s loss", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx) // answered by the meta leader only
		return err == nil
	})
	waitFor(t, 30*time.Second, "new stream leaders after "+dead+"'s loss", func() bool {
		for _, st := range streams {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			info, err := st.Info(ctx)
			cancel()
			if err != nil || info.Cluster == nil || info.Cluster.Leader == "" || info.Cluster.Leader == dead {
				return false
			}
		}
		return true
	})
}

// watcher records a store's announcements.
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

// mark is where announcements after now start.
func (w *watcher) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.calls)
}

// announced reports whether dest was announced since mark.
func (w *watcher) announced(dest string, mark int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.calls[mark:] {
		if a.dest == dest {
			return true
		}
	}
	return false
}

// announcedAt reports whether dest was announced due at due since mark.
func (w *watcher) announcedAt(dest string, due int64, mark int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.calls[mark:] {
		if a.dest == dest && a.due == due {
			return true
		}
	}
	return false
}
