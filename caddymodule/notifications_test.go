package caddymodule_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/tidwall/gjson"
)

// notificationCalls sends a top-level notification, then a batch of a notification and a call, and returns
// what the client got for each, checking it is what the upstream says without sidehook.
func notificationCalls(t *testing.T, h *harness) {
	t.Helper()
	for _, body := range []string{
		`{"jsonrpc":"2.0","method":"echo","params":[null,"note-top"]}`,
		`[{"jsonrpc":"2.0","method":"echo","params":[null,"note-batch"]},{"jsonrpc":"2.0","method":"echo","params":[null,"call"],"id":2}]`,
	} {
		status, out := h.post(body)
		plainStatus, plainOut := postTo(t, h.plainPort, body)
		if status != plainStatus || out != plainOut {
			t.Fatalf("%s: client got %d %q, without sidehook %d %q", body, status, out, plainStatus, plainOut)
		}
	}
}

// By default a notification fires nothing: only the call of the batch does.
func TestNotificationsDoNotFireByDefault(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.load(`
		subscribe echo {recv}/hook {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	notificationCalls(t, h)
	got := h.recv.waitCount(t, 1)
	h.settled(1)
	if n := len(h.recv.deliveries()); n != 1 {
		t.Fatalf("%d deliveries, want 1 (the call)", n)
	}
	if arg := gjson.GetBytes(got[0].Body, "request.args.1").String(); arg != "call" {
		t.Errorf("fired %q, want only the call", arg)
	}
}

// With fire_notifications each notification the upstream accepted (HTTP 2xx) fires once, without a result:
// "result":null in the otys payload, "response":null in the jsonrpc one.
func TestFireNotificationsFiresEachAcceptedNotificationOnce(t *testing.T) {
	for _, payload := range []string{"otys", "jsonrpc"} {
		t.Run(payload, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			h.load(`
				fire_notifications
				payload ` + payload + `
				subscribe echo {recv}/hook {
					secret {secret}
				}
				delivery {
					allow_destination 127.0.0.1/32
				}`)
			notificationCalls(t, h)
			h.recv.waitCount(t, 3)
			h.settled(3)
			got := h.recv.deliveries()
			argsPath, resultPath := "request.args.1", "result"
			if payload == "jsonrpc" {
				argsPath, resultPath = "request.params.1", "response"
			}
			var fired []string
			for _, d := range got {
				verify(t, h.secret, d)
				fired = append(fired, gjson.GetBytes(d.Body, argsPath).String())
			}
			slices.Sort(fired)
			if want := []string{"call", "note-batch", "note-top"}; !slices.Equal(fired, want) {
				t.Fatalf("fired %v, want %v", fired, want)
			}
			for _, note := range []string{"note-top", "note-batch"} {
				d := otysDeliveryWith(t, got, argsPath, note)
				if r := d.Get(resultPath); !r.Exists() || r.Type != gjson.Null {
					t.Errorf("%s: %s = %s, want null: %s", note, resultPath, r.Raw, d.Raw)
				}
				if d.Get("request.id").Exists() {
					t.Errorf("%s: the request has an id: %s", note, d.Raw)
				}
			}
			call := otysDeliveryWith(t, got, argsPath, "call")
			if payload == "otys" && call.Get("result.1").String() != "call" {
				t.Errorf("the call's result is lost: %s", call.Raw)
			}
			if payload == "jsonrpc" && call.Get("response.result.1").String() != "call" {
				t.Errorf("the call's response is lost: %s", call.Raw)
			}
		})
	}
}

// A notification the upstream refused (not 2xx) does not fire, even with fire_notifications.
func TestFireNotificationsNeedsA2xx(t *testing.T) {
	h := newHarness(t, harnessOptions{upstream: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})})
	h.load(`
		fire_notifications
		subscribe * {recv}/hook {
			secret {secret}
		}
		delivery {
			allow_destination 127.0.0.1/32
		}`)
	if status, _ := h.post(`{"jsonrpc":"2.0","method":"echo","params":[null,"note"]}`); status != http.StatusBadGateway {
		t.Fatalf("status %d, want the upstream's 502", status)
	}
	if s := h.stats(); s.Depth != 0 || s.InFlight != 0 || s.Delivered != 0 {
		t.Errorf("a refused notification was queued: %+v", s)
	}
}

// `fire_notifications` takes no argument and sets fire_notifications in the JSON config.
func TestCaddyfileFireNotifications(t *testing.T) {
	adapt := func(lines string) ([]byte, error) {
		cfg := "http://127.0.0.1:9 {\n\tsidehook {\n" + lines + "\n\t}\n\treverse_proxy 127.0.0.1:8\n}\n"
		out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
		return out, err
	}
	out, err := adapt("\t\tfire_notifications")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"handler":"sidehook"`) || !strings.Contains(string(out), `"fire_notifications":true`) {
		t.Errorf("adapted config lacks fire_notifications: %s", out)
	}
	if out, err := adapt("\t\tpreset otys"); err != nil || strings.Contains(string(out), "fire_notifications") {
		t.Errorf("fire_notifications is not off by default: %v %s", err, out)
	}
	if _, err := adapt("\t\tfire_notifications yes"); err == nil {
		t.Error("fire_notifications with an argument was accepted")
	}
}
