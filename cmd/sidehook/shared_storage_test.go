package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/sidehook/sidehook/internal/fakeows"
	"github.com/sidehook/sidehook/internal/natstest"
)

// instanceCaddyfile is one instance of several in front of one API: its own admin endpoint and port, its
// storage and its queue lines (a queue_dir, or a cluster block).
const instanceCaddyfile = `{
	admin %[1]s
	persist_config off
	storage file_system %[2]s
	log {
		level ERROR
	}
}
http://%[3]s {
	sidehook {
		preset otys
		%[4]s
		delivery {
			allow_destination 127.0.0.1/32
		}
	}
	reverse_proxy %[5]s
}
`

// instanceSetup says where one instance of several keeps its subscriptions and its queue.
type instanceSetup func(t *testing.T, home string) (storage, queueLines string)

// Two sidehook processes sharing one storage directory: a subscription added through one applies on the other
// within 10 s (the other polls the version marker), and a delete through the other stops it on the first.
func TestSharedStorageSubscriptionReachesOtherInstance(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "storage")
	subscriptionReachesOtherInstance(t, 10*time.Second, func(t *testing.T, home string) (string, string) {
		return shared, "queue_dir " + filepath.Join(home, "queue")
	})
}

// Two sidehook processes in cluster mode, each with its own Caddy storage: the subscriptions live in the
// cluster's bucket, and a change made through one instance applies on the other within 1 s, by a watch,
// not a poll.
func TestClusterModeSubscriptionReachesOtherInstanceWithinASecond(t *testing.T) {
	node := natstest.StartNode(t)
	subscriptionReachesOtherInstance(t, time.Second, func(t *testing.T, home string) (string, string) {
		return filepath.Join(home, "storage"), "cluster {\n\t\t\tnats " + node.URL() + "\n\t\t\tprefix subs\n\t\t}"
	})
}

// subscriptionReachesOtherInstance starts two instances set up by setup: a subscription added through the
// first applies on the second within `within` and fires there, and a delete through the second applies on
// the first as soon and stops it firing there.
func subscriptionReachesOtherInstance(t *testing.T, within time.Duration, setup instanceSetup) {
	api := fakeows.New(fakeows.Options{Users: []fakeows.User{{APIKey: "key-42-7", ClientID: "42", UserID: "7"}}})
	apiSrv := httptest.NewServer(api)
	defer apiSrv.Close()
	var mu sync.Mutex
	var got []string // "<path> <request.args.2.n>"
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, fmt.Sprintf("%s %d", r.URL.Path, gjson.GetBytes(body, "request.args.2.n").Int()))
		mu.Unlock()
	}))
	defer recv.Close()
	received := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }

	addrs := [2]string{freeAddr(t), freeAddr(t)}
	for _, addr := range addrs {
		home := t.TempDir()
		storage, queueLines := setup(t, home)
		cfg := fmt.Sprintf(instanceCaddyfile, freeAddr(t), storage, addr, queueLines, strings.TrimPrefix(apiSrv.URL, "http://"))
		startCaddy(t, home, cfg, addr)
	}
	call := func(addr, method string, params ...any) gjson.Result {
		t.Helper()
		return rpc(t, addr, method, params...)
	}

	sess := call(addrs[0], "login", "key-42-7").String()
	uid := call(addrs[0], "Otys.Services.WebhooksService.add", sess, map[string]any{"serviceCall": "CandidateService.update", "webhookUrl": recv.URL + "/shared"}).String()
	added := time.Now()
	// The change applies on the second instance within `within`: its getList (its matcher's index) shows it.
	waitFor(t, within, func() bool {
		return call(addrs[1], "Otys.Services.WebhooksService.getList", sess).Get("0.uid").String() == uid
	}, "the second instance to list the subscription added through the first")
	t.Logf("the second instance listed the new subscription %s after the add", time.Since(added).Round(time.Millisecond))
	// And its calls fire it (delivery included: a looser deadline).
	n := 0
	waitFor(t, within+5*time.Second, func() bool {
		n++
		call(addrs[1], "Otys.Services.CandidateService.update", sess, "cand-1", map[string]any{"n": n})
		return len(received()) > 0 || waitDelivery(received, 200*time.Millisecond)
	}, "a call through the second instance to fire the subscription added through the first")

	// Delete through the second: it applies on the first as soon, and the first stops firing.
	call(addrs[1], "Otys.Services.WebhooksService.delete", sess, uid)
	deleted := time.Now()
	waitFor(t, within, func() bool {
		return len(call(addrs[0], "Otys.Services.WebhooksService.getList", sess).Array()) == 0
	}, "the first instance to see the delete")
	t.Logf("the first instance saw the delete after %s", time.Since(deleted).Round(time.Millisecond))
	before := len(received())
	call(addrs[0], "Otys.Services.CandidateService.update", sess, "cand-1", map[string]any{"n": -1})
	if waitDelivery(func() []string { return received()[before:] }, 500*time.Millisecond) {
		t.Fatalf("the deleted subscription still fired on the first instance: %v", received())
	}
}

// rpc makes a JSON-RPC call through the sidehook at addr and returns its result, failing the test when there
// is none.
func rpc(t *testing.T, addr, method string, params ...any) gjson.Result {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "params": params, "id": 1})
	resp, err := client.Post("http://"+addr+"/", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("%s via %s: %v", method, addr, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	r := gjson.ParseBytes(out)
	if !r.Get("result").Exists() {
		t.Fatalf("%s via %s: %s", method, addr, out)
	}
	return r.Get("result")
}

// waitDelivery reports whether got returns something within d.
func waitDelivery(got func() []string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if len(got()) > 0 {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return len(got()) > 0
}
