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
)

// sharedCaddyfile is one instance of a cluster: its own admin endpoint, port and queue_dir, the storage shared.
const sharedCaddyfile = `{
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
		queue_dir %[4]s
		delivery {
			allow_destination 127.0.0.1/32
		}
	}
	reverse_proxy %[5]s
}
`

// Two sidehook processes sharing one storage directory: a subscription added through one fires on the other
// within 10 s (the other polls the version marker), and a delete through the other stops it on the first.
func TestSharedStorageSubscriptionReachesOtherInstance(t *testing.T) {
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

	shared := filepath.Join(t.TempDir(), "storage")
	addrs := [2]string{freeAddr(t), freeAddr(t)}
	for _, addr := range addrs {
		home := t.TempDir()
		cfg := fmt.Sprintf(sharedCaddyfile, freeAddr(t), shared, addr, filepath.Join(home, "queue"), strings.TrimPrefix(apiSrv.URL, "http://"))
		startCaddy(t, home, cfg, addr)
	}
	client := &http.Client{Timeout: 30 * time.Second} // a hang fails this test, not the whole run
	call := func(addr, method string, params ...any) gjson.Result {
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

	sess := call(addrs[0], "login", "key-42-7").String()
	uid := call(addrs[0], "Otys.Services.WebhooksService.add", sess, map[string]any{"serviceCall": "CandidateService.update", "webhookUrl": recv.URL + "/shared"}).String()
	added := time.Now()
	// Call through the other instance until its call fires; each call before its poll fires nothing.
	n := 0
	waitFor(t, 10*time.Second, func() bool {
		n++
		call(addrs[1], "Otys.Services.CandidateService.update", sess, "cand-1", map[string]any{"n": n})
		return len(received()) > 0 || waitDelivery(received, 200*time.Millisecond)
	}, "a call through the second instance to fire the subscription added through the first")
	t.Logf("the second instance fired the new subscription %s after the add (%d calls)", time.Since(added).Round(time.Millisecond), n)
	if list := call(addrs[1], "Otys.Services.WebhooksService.getList", sess); list.Get("0.uid").String() != uid {
		t.Fatalf("the second instance lists %s, want %s", list.Raw, uid)
	}

	// Delete through the second: the first stops firing within 10 s.
	call(addrs[1], "Otys.Services.WebhooksService.delete", sess, uid)
	deleted := time.Now()
	waitFor(t, 10*time.Second, func() bool {
		return len(call(addrs[0], "Otys.Services.WebhooksService.getList", sess).Array()) == 0
	}, "the first instance to see the delete")
	before := len(received())
	call(addrs[0], "Otys.Services.CandidateService.update", sess, "cand-1", map[string]any{"n": -1})
	if waitDelivery(func() []string { return received()[before:] }, 500*time.Millisecond) {
		t.Fatalf("the deleted subscription still fired on the first instance: %v", received())
	}
	t.Logf("the first instance saw the delete after %s", time.Since(deleted).Round(time.Millisecond))
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
