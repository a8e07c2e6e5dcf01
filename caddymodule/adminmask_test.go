package caddymodule_test

import (
	"net/http"
	"strings"
	"testing"
)

// A receiver's basic-auth password in a webhook URL is its client's secret: the admin API shows the URL
// with the password masked, in the subscription list, in the log items and in the delivered bodies they
// carry, while the delivery itself still goes to the URL as written.
func TestAdminAPIMasksWebhookURLPassword(t *testing.T) {
	const password = "pw-Basic-Auth-77"
	h := newHarness(t, harnessOptions{})
	hookURL := strings.Replace(h.recv.srv.URL, "http://", "http://hook:"+password+"@", 1) + "/all?a=1&b=2"
	h.load(`
		subscribe echo ` + hookURL + ` {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	h.post(`{"jsonrpc":"2.0","method":"echo","params":["x"],"id":1}`)
	got := h.recv.waitCount(t, 1)
	h.settled(1)
	if user, pw, ok := (&http.Request{Header: got[0].Header}).BasicAuth(); !ok || user != "hook" || pw != password {
		t.Fatalf("the delivery did not carry the URL's credentials: %q %q %v", user, pw, ok)
	}

	subs := adminGetRaw(t, "/sidehook/subscriptions")
	logs := adminGetRaw(t, "/sidehook/logs")
	for route, body := range map[string]string{"subscriptions": subs, "logs": logs} {
		if strings.Contains(body, password) {
			t.Errorf("/sidehook/%s shows the password: %s", route, body)
		}
		if !strings.Contains(body, "hook:xxxxx@127.0.0.1") {
			t.Errorf("/sidehook/%s does not show the masked URL: %s", route, body)
		}
	}
	if !strings.Contains(logs, `"request_data":`) || !strings.Contains(logs, `hook:xxxxx@`) {
		t.Errorf("/sidehook/logs: %s", logs)
	}
}
