package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/tidwall/gjson"

	"github.com/sidehook/sidehook/internal/fakeows"
	"github.com/sidehook/sidehook/internal/natstest"
)

// signedDelivery is one webhook as the receiver got it.
type signedDelivery struct {
	header http.Header
	body   []byte
}

// In cluster mode the management API answers alike on every instance: a delivery made for a call through one
// instance is in getLogs of the other, a retry asked of either delivers again, and a secret rotated through
// one signs the next delivery made by the other.
func TestClusterModeManagementAnswersAlikeOnEveryInstance(t *testing.T) {
	node := natstest.StartNode(t)
	api := httptest.NewServer(fakeows.New(fakeows.Options{Users: []fakeows.User{{APIKey: "key-42-7", ClientID: "42", UserID: "7"}}}))
	t.Cleanup(api.Close)
	var mu sync.Mutex
	var got []signedDelivery
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, signedDelivery{r.Header.Clone(), body})
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	received := func() []signedDelivery { mu.Lock(); defer mu.Unlock(); return append([]signedDelivery(nil), got...) }

	addrs := [2]string{freeAddr(t), freeAddr(t)}
	for _, addr := range addrs {
		home := t.TempDir()
		queue := "cluster {\n\t\t\tnats " + node.URL() + "\n\t\t\tprefix mgmt\n\t\t}"
		startCaddy(t, home, fmt.Sprintf(instanceCaddyfile, freeAddr(t), filepath.Join(home, "storage"), addr, queue, strings.TrimPrefix(api.URL, "http://")), addr)
	}
	call := func(i int, method string, params ...any) gjson.Result {
		t.Helper()
		return rpc(t, addrs[i], method, params...)
	}
	logIDs := func(i int) string {
		var ids []string
		for _, it := range call(i, "Otys.Services.WebhooksService.getLogs", call(i, "login", "key-42-7").String(), 50).Array() {
			ids = append(ids, it.Get("id").String()+" "+it.Get("status").String())
		}
		return strings.Join(ids, ",")
	}

	sess := call(0, "login", "key-42-7").String()
	added := call(0, "Otys.Services.WebhooksService.add", sess, map[string]any{"serviceCall": "CandidateService.update", "webhookUrl": recv.URL + "/hook"})
	uid := added.String()
	waitFor(t, 5*time.Second, func() bool {
		return call(1, "Otys.Services.WebhooksService.getList", sess).Get("0.uid").String() == uid
	}, "the second instance to list the subscription")

	// A call through the second instance is delivered, and both instances' getLogs show it alike.
	call(1, "Otys.Services.CandidateService.update", sess, "cand-1", map[string]any{"n": 1})
	waitFor(t, 15*time.Second, func() bool { return len(received()) == 1 }, "the delivery of the call through the second instance")
	var logs string
	waitFor(t, 5*time.Second, func() bool {
		logs = logIDs(0)
		return strings.HasSuffix(logs, " delivered") && logs == logIDs(1)
	}, "both instances' getLogs to show the delivery alike")
	itemID, _, _ := strings.Cut(logs, " ")

	// A retry asked of the first instance delivers the item again, under the same webhook-id.
	if ok := call(0, "Otys.Services.WebhooksService.retry", sess, itemID); !ok.Bool() {
		t.Fatalf("retry answered %s", ok.Raw)
	}
	waitFor(t, 15*time.Second, func() bool { return len(received()) == 2 }, "the retried delivery")
	if a, b := received()[0].header.Get("webhook-id"), received()[1].header.Get("webhook-id"); a != b {
		t.Errorf("the retry came with webhook-id %s, the first delivery with %s", b, a)
	}

	// A secret rotated through the second instance signs the next delivery the first makes (beside the old
	// one's signature during the rotation's grace: a receiver verifies with either).
	secret := call(1, "Otys.Services.WebhooksService.rotateSecret", sess, uid).String()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("rotateSecret answered %q: %v", secret, err)
	}
	waitFor(t, 5*time.Second, func() bool {
		call(0, "Otys.Services.CandidateService.update", sess, "cand-1", map[string]any{"n": 2})
		d := received()
		last := d[len(d)-1]
		return len(d) > 2 && wh.Verify(last.body, last.header) == nil
	}, "a delivery made by the first instance to be signed with the secret rotated through the second")
}
