package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/sidehook/sidehook/internal/fakeows"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "demo",
		Usage: "[--keep]",
		Short: "Shows sidehook end to end: a sample JSON-RPC API, sidehook in front of it, and a webhook receiver",
		Long: `
Starts, all on 127.0.0.1 and in this process:
  - a sample JSON-RPC API (a small fake of OTYS OWS),
  - a webhook receiver that prints what it gets and verifies each signature,
  - Caddy with sidehook in front of the API, from a Caddyfile it prints first.
Then it sends a few calls through Caddy, as an integrator would, and shows the webhooks that arrive.
With --keep it stays up afterwards so you can send your own calls (Ctrl-C to stop).`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().Bool("keep", false, "keep running after the demo calls")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(runDemo)
		},
	})
}

// demoSecret signs the Caddyfile's static subscription; a real deployment generates its own.
const demoSecret = "whsec_c2lkZWhvb2stZGVtby1zZWNyZXQtMzItYnl0ZXMhIQ=="

const demoCaddyfile = `{
	admin off
	persist_config off
	storage file_system %[1]s/storage
	log {
		level ERROR
	}
}

# sidehook in front of a JSON-RPC API: the call goes upstream as always; when it matches a
# subscription, its redacted request and response become a signed webhook.
http://127.0.0.1:%[2]d {
	sidehook {
		preset otys                 # sessions in params[0], identity via "check", WebhooksService, MultiService…
		queue_dir %[1]s/queue

		# a static subscription; integrators add their own with WebhooksService.add
		subscribe CandidateService.update http://127.0.0.1:%[3]d/hooks/candidates {
			secret %[4]s
		}

		delivery {
			allow_destination 127.0.0.1/32   # the demo receiver is local; real receivers need no such line
			retry 1s 5s 30s
		}
	}
	reverse_proxy 127.0.0.1:%[5]d
}
`

func runDemo(fl caddycmd.Flags) (int, error) {
	dir, err := os.MkdirTemp("", "sidehook-demo-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)

	api, err := serveLocal(fakeows.New(fakeows.Options{Users: []fakeows.User{{APIKey: "demo-api-key", ClientID: "42", UserID: "7"}}}))
	if err != nil {
		return 1, err
	}
	defer api.Close()
	recv := newDemoReceiver()
	hooks, err := serveLocal(recv)
	if err != nil {
		return 1, err
	}
	defer hooks.Close()
	caddyPort, err := freePort()
	if err != nil {
		return 1, err
	}

	caddyfile := fmt.Sprintf(demoCaddyfile, dir, caddyPort, port(hooks), demoSecret, port(api))
	fmt.Printf("== Caddyfile ==\n%s\n", caddyfile)
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		return 1, fmt.Errorf("adapting the demo Caddyfile: %w", err)
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		return 1, fmt.Errorf("starting Caddy: %w", err)
	}
	defer caddy.Stop() //nolint:errcheck

	endpoint := fmt.Sprintf("http://127.0.0.1:%d/", caddyPort)
	call := func(title, body string) string {
		fmt.Printf("-> %s\n   %s\n", title, body)
		resp, err := http.Post(endpoint, "application/json", strings.NewReader(body))
		if err != nil {
			fmt.Printf("<- error: %v\n\n", err)
			return ""
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		fmt.Printf("<- %s\n\n", bytes.TrimSpace(out))
		return string(out)
	}

	fmt.Println("== Calls through Caddy ==")
	login := call("login (never fired: it carries the API key)", `{"jsonrpc":"2.0","method":"login","params":["demo-api-key"],"id":1}`)
	var sess struct{ Result string }
	if err := json.Unmarshal([]byte(login), &sess); err != nil || sess.Result == "" {
		return 1, fmt.Errorf("login through Caddy failed: %s", login)
	}
	s := sess.Result
	call("WebhooksService.add, answered by sidehook itself", fmt.Sprintf(
		`{"jsonrpc":"2.0","method":"Otys.Services.WebhooksService.add","params":[%q,{"serviceCall":"VacancyService.update","webhookUrl":"http://127.0.0.1:%d/hooks/{%%user.clientId%%}/vacancies","klantGlobal":true}],"id":2}`,
		s, port(hooks)))
	list := call("WebhooksService.getList", fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.WebhooksService.getList","params":[%q],"id":3}`, s))
	var subs struct {
		Result []struct{ UID, Secret string }
	}
	_ = json.Unmarshal([]byte(list), &subs)
	for _, sub := range subs.Result {
		recv.trust(sub.Secret)
	}
	recv.trust(demoSecret)

	call("CandidateService.update (fires the static subscription)", fmt.Sprintf(
		`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[%q,"cand-1",{"Person":{"firstName":"Ada"}}],"id":4}`, s))
	call("MultiService.execute with two inner calls (the vacancy update fires on its own)", fmt.Sprintf(
		`{"jsonrpc":"2.0","method":"Otys.Services.MultiService.execute","params":[[{"method":"Otys.Services.VacancyService.update","args":[%q,"vac-1",{"title":"Go developer"}]},{"method":"Otys.Services.CandidateService.getDetail","args":[%q,"cand-1"]}]],"id":5}`, s, s))
	call("a failed update (never fired: only successful calls are)", fmt.Sprintf(
		`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":[%q,"no-such-candidate",{}],"id":6}`, s))

	fmt.Println("== Webhooks received ==")
	deadline := time.Now().Add(15 * time.Second)
	for recv.count() < 2 && time.Now().Before(deadline) {
		recv.wait(time.Until(deadline))
	}
	recv.print()
	call("WebhooksService.getLogs", fmt.Sprintf(`{"jsonrpc":"2.0","method":"Otys.Services.WebhooksService.getLogs","params":[%q,5],"id":7}`, s))

	if recv.count() < 2 || recv.unverified() > 0 {
		return 1, fmt.Errorf("expected 2 verified webhooks, got %d (%d unverified)", recv.count(), recv.unverified())
	}
	fmt.Println("Demo complete: 2 webhooks delivered, every signature verified.")
	if fl.Bool("keep") {
		fmt.Printf("Still running: POST JSON-RPC to %s (session %s). Ctrl-C to stop.\n", endpoint, s)
		select {}
	}
	return 0, nil
}

// demoReceiver is a webhook receiver that checks signatures the way the README tells receivers to.
type demoReceiver struct {
	mu      sync.Mutex
	secrets []string
	got     []receivedHook
	signal  chan struct{}
}

type receivedHook struct {
	path, id, body string
	verified       bool
}

func newDemoReceiver() *demoReceiver { return &demoReceiver{signal: make(chan struct{}, 100)} }

func (d *demoReceiver) trust(secret string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.secrets = append(d.secrets, secret)
}

func (d *demoReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	ok := verifySignature(d.secrets, r.Header, body)
	d.got = append(d.got, receivedHook{path: r.URL.Path, id: r.Header.Get("webhook-id"), body: string(body), verified: ok})
	d.mu.Unlock()
	select {
	case d.signal <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d *demoReceiver) wait(max time.Duration) {
	select {
	case <-d.signal:
	case <-time.After(max):
	}
}

func (d *demoReceiver) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.got)
}

func (d *demoReceiver) unverified() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, h := range d.got {
		if !h.verified {
			n++
		}
	}
	return n
}

func (d *demoReceiver) print() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, h := range d.got {
		var pretty bytes.Buffer
		if json.Indent(&pretty, []byte(h.body), "   ", "  ") != nil {
			pretty.WriteString(h.body)
		}
		mark := "signature verified"
		if !h.verified {
			mark = "SIGNATURE DID NOT VERIFY"
		}
		fmt.Printf("POST %s  webhook-id %s  (%s)\n   %s\n\n", h.path, h.id, mark, pretty.String())
	}
}

// verifySignature checks a Standard Webhooks signature: HMAC-SHA256 over "id.timestamp.body" with the secret's
// base64-decoded bytes, compared in constant time against every "v1,<sig>" entry of the header.
func verifySignature(secrets []string, h http.Header, body []byte) bool {
	signed := h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)
	for _, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			continue
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(signed))
		want := mac.Sum(nil)
		for _, entry := range strings.Fields(h.Get("webhook-signature")) {
			sig, found := strings.CutPrefix(entry, "v1,")
			got, err := base64.StdEncoding.DecodeString(sig)
			if found && err == nil && hmac.Equal(got, want) {
				return true
			}
		}
	}
	return false
}

func serveLocal(h http.Handler) (*http.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, Addr: ln.Addr().String(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "demo server:", err)
		}
	}()
	return srv, nil
}

func port(srv *http.Server) int {
	_, p, _ := net.SplitHostPort(srv.Addr)
	var n int
	fmt.Sscan(p, &n)
	return n
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
