package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sidehook/sidehook/internal/fakeows"
	"github.com/sidehook/sidehook/internal/natstest"
)

// clusterWorld is two or more sidehook processes in cluster mode on one NATS JetStream, in front of one
// upstream, delivering to one receiver: what a deployment of several instances behind a load balancer is.
type clusterWorld struct {
	t    *testing.T
	node *natstest.Server
	nats []string
	// clusterLines are extra lines of every instance's cluster block.
	clusterLines string
	api          string
	recv         *tally
	nodes        []*clusterInstance
}

// clusterInstance is one sidehook process of the cluster, with its own site and admin addresses and home.
type clusterInstance struct {
	home, site, admin string
	proc              *process
}

// newClusterWorld starts a single NATS node and n sidehook instances whose Caddyfiles differ only in their
// addresses and homes. delivery holds extra lines of the delivery block.
func newClusterWorld(t *testing.T, n int, delivery string) *clusterWorld {
	t.Helper()
	w := newClusterWorldNATS(t)
	for range n {
		w.startInstance(delivery)
	}
	return w
}

// newClusterWorldNATS starts the NATS node, the upstream and the receiver, and no sidehook yet.
func newClusterWorldNATS(t *testing.T) *clusterWorld {
	t.Helper()
	node := natstest.StartNode(t)
	api := httptest.NewServer(fakeows.New(fakeows.Options{}))
	t.Cleanup(api.Close)
	return &clusterWorld{t: t, node: node, nats: []string{node.URL()}, api: strings.TrimPrefix(api.URL, "http://"), recv: newTally(t, freeAddr(t))}
}

// startInstance starts one more sidehook instance of the cluster.
func (w *clusterWorld) startInstance(delivery string) *clusterInstance {
	w.t.Helper()
	in := &clusterInstance{home: w.t.TempDir(), site: freeAddr(w.t), admin: freeAddr(w.t)}
	in.proc = startCaddy(w.t, in.home, w.caddyfile(in, delivery), in.site)
	w.nodes = append(w.nodes, in)
	return in
}

// caddyfile is sidehook in cluster mode in front of the upstream, subscribed to `echo` by a static
// subscription that every instance has alike (so its uid is the same on each).
func (w *clusterWorld) caddyfile(in *clusterInstance, delivery string) string {
	return testGlobals(in.admin, filepath.Join(in.home, "storage")) + fmt.Sprintf(`http://%s {
	sidehook {
		cluster {
			nats %s
			prefix e2e
%s
		}
		subscribe echo http://%s/hook {
			secret %s
		}
		delivery {
			allow_destination 127.0.0.1/32
%s
		}
	}
	reverse_proxy %s
}
`, in.site, strings.Join(w.nats, " "), w.clusterLines, w.recv.addr, crashSecret, delivery, w.api)
}

// fire makes the call that becomes event key through instance i.
func (w *clusterWorld) fire(i int, key string) error {
	hw := &hookWorld{t: w.t, site: w.nodes[i].site}
	return hw.fire(key)
}

// logIDs lists the ids of the delivery log items instance i's admin API returns (every client, newest first).
func (w *clusterWorld) logIDs(i int) ([]string, error) {
	resp, err := client.Get("http://" + w.nodes[i].admin + "/sidehook/logs?limit=1000")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("logs: %s", resp.Status)
	}
	var items []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&items); err != nil {
		return nil, err
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID + " " + it.Status
	}
	return ids, nil
}

// Calls made through either of two instances are each delivered, and both instances' logs show every one of
// them: the queue, the deliveries and the logs are the cluster's, not the instance's.
func TestClusterModeSharesDeliveriesAndLogs(t *testing.T) {
	w := newClusterWorld(t, 2, "")
	var keys []string
	for i := range 20 {
		key := eventKey(i)
		if err := w.fire(i%2, key); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
	}
	hw := &hookWorld{t: t, recv: w.recv, admin: w.nodes[0].admin}
	hw.waitAccepted(keys, 60*time.Second)
	var first []string
	waitFor(t, 10*time.Second, func() bool {
		a, errA := w.logIDs(0)
		b, errB := w.logIDs(1)
		first = a
		return errA == nil && errB == nil && len(a) == len(keys) && strings.Join(a, ",") == strings.Join(b, ",") &&
			!strings.Contains(strings.Join(a, ","), " pending") && !strings.Contains(strings.Join(a, ","), " retrying")
	}, "both instances to list the same 20 delivered log items")
	if distinct, dup, _, _ := w.recv.counts(); distinct != len(keys) {
		t.Errorf("receiver accepted %d distinct events (%d duplicates), want %d", distinct, dup, len(keys))
	}
	t.Logf("log items: %d, e.g. %s", len(first), first[0])
}

// daily_limit counts across the cluster: 30 calls spread over two instances with a limit of 10 queue exactly
// 10, whichever instance answered them.
func TestClusterModeDailyLimitIsExactAcrossInstances(t *testing.T) {
	w := newClusterWorld(t, 2, "\t\t\tdaily_limit 10")
	for i := range 30 {
		if err := w.fire(i%2, eventKey(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Every event is logged (queued or limited) before its call is answered; wait for the queued ones to be
	// delivered.
	var delivered, limited int
	waitFor(t, 30*time.Second, func() bool {
		ids, err := w.logIDs(1)
		if err != nil {
			return false
		}
		delivered, limited = 0, 0
		for _, id := range ids {
			switch {
			case strings.HasSuffix(id, " limited"):
				limited++
			case strings.HasSuffix(id, " delivered"):
				delivered++
			}
		}
		return delivered+limited == 30
	}, "30 final log items")
	if delivered != 10 || limited != 20 {
		t.Errorf("the logs hold %d delivered and %d limited items; want 10 and 20", delivered, limited)
	}
	if d, _, _, _ := w.recv.counts(); d != 10 {
		t.Errorf("receiver accepted %d distinct events, want exactly 10", d)
	}
}

// sidehook fails open on NATS: an instance whose NATS is down when it starts serves the API all the same
// (calls pass through, their events are dropped and counted), and once NATS is back it opens the cluster's
// queue by itself and fires again, with no restart or reload.
func TestClusterModeStartsWithNATSDownAndFiresOnceItIsBack(t *testing.T) {
	w := newClusterWorldNATS(t)
	w.node.Kill(t)
	w.startInstance("")
	for i := range 5 {
		if err := w.fire(0, eventKey(i)); err != nil {
			t.Fatalf("call %d with NATS down: %v", i, err)
		}
	}
	hw := &hookWorld{t: t, recv: w.recv, admin: w.nodes[0].admin}
	if got := hw.dropped("queue_unavailable"); got != 5 {
		t.Errorf("events_dropped_total{reason=queue_unavailable} = %d after 5 calls with NATS down, want 5", got)
	}
	w.node.Restart(t)
	w.waitFiringResumes(5)
	if got := w.recv.undelivered([]string{eventKey(0), eventKey(4)}); len(got) != 2 {
		t.Errorf("events of calls made while NATS was down were delivered: %v were not, want both not", got)
	}
}

// NATS lost while an instance runs: calls pass through with their events dropped and counted, and firing
// resumes by itself when NATS is back (the client reconnects; nothing is reopened).
func TestClusterModeSurvivesNATSOutage(t *testing.T) {
	w := newClusterWorld(t, 1, "")
	hw := &hookWorld{t: t, recv: w.recv, admin: w.nodes[0].admin}
	if err := w.fire(0, eventKey(0)); err != nil {
		t.Fatal(err)
	}
	hw.waitAccepted([]string{eventKey(0)}, 30*time.Second)
	w.node.Kill(t)
	// The first call after the loss may wait for the client to reconnect (to another node of a cluster it
	// would, within a second); then the store knows NATS is away.
	if err := w.fire(0, eventKey(1)); err != nil {
		t.Fatalf("call with NATS just lost: %v", err)
	}
	for i := 2; i <= 4; i++ {
		start := time.Now()
		if err := w.fire(0, eventKey(i)); err != nil {
			t.Fatalf("call %d with NATS down: %v", i, err)
		}
		// Failing open means not waiting for NATS: the store knows its connection is down and does not wait
		// for its request timeout (5 s) on every call. Half of it leaves a loaded CI machine ample margin.
		if took := time.Since(start); took > 2500*time.Millisecond {
			t.Errorf("call %d with NATS down took %s: the call waited for the store", i, took)
		}
	}
	if got := hw.dropped("store_failed"); got != 4 {
		t.Errorf("events_dropped_total{reason=store_failed} = %d after 4 calls with NATS down, want 4", got)
	}
	w.node.Restart(t)
	w.waitFiringResumes(5)
}

// waitFiringResumes makes calls through instance i (the first when not given), keys from on, until the event
// of one of them is delivered (the queue is open and NATS takes writes), then checks that the next call's
// event is delivered too.
func (w *clusterWorld) waitFiringResumes(from int, instance ...int) {
	i := 0
	if len(instance) > 0 {
		i = instance[0]
	}
	w.t.Helper()
	next := from
	waitFor(w.t, 30*time.Second, func() bool {
		if err := w.fire(i, eventKey(next)); err != nil {
			w.t.Fatalf("call %d: %v", next, err)
		}
		next++
		var made []string
		for i := from; i < next; i++ {
			made = append(made, eventKey(i))
		}
		return len(w.recv.undelivered(made)) < len(made)
	}, "firing to resume once NATS is back")
	after := eventKey(next)
	if err := w.fire(i, after); err != nil {
		w.t.Fatal(err)
	}
	hw := &hookWorld{t: w.t, recv: w.recv, admin: w.nodes[i].admin}
	hw.waitAccepted([]string{after}, 30*time.Second)
}

// The cluster under steady matched traffic loses a NATS node and a sidehook instance (SIGKILL), then gets both
// back: every call whose answer a client got and whose event was stored is delivered (a duplicate is allowed
// and counted; the drops sidehook counted, if any, are the only calls allowed to go undelivered), and no event
// is ever delivered twice at the same time.
func TestClusterModeSurvivesLosingANodeAndAnInstance(t *testing.T) {
	cluster := natstest.StartCluster(t, 3)
	api := httptest.NewServer(fakeows.New(fakeows.Options{}))
	t.Cleanup(api.Close)
	w := &clusterWorld{t: t, nats: cluster.URLs(), api: strings.TrimPrefix(api.URL, "http://"), recv: newTally(t, freeAddr(t))}
	// Three replicas; a short lease (the least a 5 s delivery timeout allows) so that the killed instance's
	// claims end within the test.
	const delivery = "\t\t\ttimeout 5s"
	w.clusterLines = "\t\t\treplicas 3\n\t\t\tclaim_lease 20s"
	a, b := w.startInstance(delivery), w.startInstance(delivery)
	// A fresh cluster may still be creating the streams when an instance starts (it then opens its queue in
	// the background): begin once both fire.
	w.waitFiringResumes(1000, 0)
	w.waitFiringResumes(2000, 1)
	// A receiver that takes its time, as real ones do, so that the instance killed holds claims in flight.
	w.recv.setDecide(func() int {
		time.Sleep(30 * time.Millisecond) // the receiver's own slowness, not a wait on the test's part
		return http.StatusOK
	})
	var answered []string
	dropsOf := func(in *clusterInstance) int {
		hw := &hookWorld{t: t, admin: in.admin}
		return hw.dropped("store_failed") + hw.dropped("queue_unavailable")
	}
	dropped := -dropsOf(a) - dropsOf(b) // the warm-up's, if any, are not the load's
	fire := func(in *clusterInstance, i int) {
		key := eventKey(i)
		hw := &hookWorld{t: t, site: in.site}
		if err := hw.fire(key); err == nil {
			answered = append(answered, key)
		}
	}
	for i := range 400 {
		switch i {
		case 100:
			cluster.Nodes[1].Kill(t)
		case 150:
			dropped += dropsOf(b) // its counters die with it
			b.proc.kill()
		case 250:
			cluster.Nodes[1].Restart(t)
		case 300:
			b.proc = startCaddy(t, b.home, w.caddyfile(b, delivery), b.site)
		}
		in := a
		if i%2 == 1 && (i < 150 || i >= 300) {
			in = b
		}
		fire(in, i)
	}
	dropped += dropsOf(a) + dropsOf(b)
	deadline := time.Now().Add(90 * time.Second)
	for len(w.recv.undelivered(answered)) > dropped && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // polling the receiver, bounded by the deadline
	}
	missing := w.recv.undelivered(answered)
	distinct, duplicates, requests, _ := w.recv.counts()
	t.Logf("%d calls answered, %d events dropped (counted), %d delivered, %d duplicates, %d requests, %d undelivered",
		len(answered), dropped, distinct, duplicates, requests, len(missing))
	if len(missing) > dropped {
		t.Errorf("%d answered calls undelivered, more than the %d drops counted: e.g. %v", len(missing), dropped, missing[:min(len(missing), 10)])
	}
	if n := w.recv.overlaps(); n > 0 {
		t.Errorf("%d deliveries arrived while another delivery of the same event was under way", n)
	}
}

// A receiver's 410 Gone disables its subscription for the whole cluster: the instance that got the 410
// records it in the cluster's bucket, and the other instance stops firing the subscription too.
func TestClusterModeGoneDisablesTheSubscriptionOnEveryInstance(t *testing.T) {
	w := newClusterWorld(t, 2, "")
	w.recv.setDecide(func() int { return http.StatusGone })
	if err := w.fire(0, eventKey(0)); err != nil {
		t.Fatal(err)
	}
	disabledOn := func(i int) bool {
		resp, err := client.Get("http://" + w.nodes[i].admin + "/sidehook/subscriptions")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var subs []struct {
			Disabled bool `json:"disabled"`
		}
		return json.NewDecoder(resp.Body).Decode(&subs) == nil && len(subs) == 1 && subs[0].Disabled
	}
	waitFor(t, 15*time.Second, func() bool { return disabledOn(0) && disabledOn(1) }, "both instances to show the subscription disabled")
	_, _, before, _ := w.recv.counts()
	for i := 1; i <= 3; i++ {
		if err := w.fire(1, eventKey(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing is queued for a disabled subscription, so nothing can arrive: the logs of both instances still
	// hold the one gone item.
	ids, err := w.logIDs(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || !strings.HasSuffix(ids[0], " gone") {
		t.Errorf("after the 410 the cluster's logs hold %v, want the one gone item", ids)
	}
	if _, _, after, _ := w.recv.counts(); after != before {
		t.Errorf("the receiver got %d more requests after its 410 disabled the subscription", after-before)
	}
}
