// Package caddymodule is sidehook's Caddy face: the `sidehook` HTTP handler, its Caddyfile and JSON config,
// the app that keeps the delivery queue alive across reloads, the management (WebhooksService) answers, the
// admin API and the metrics. The mechanics live below it, in proxy, matcher and queue.
package caddymodule

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/sidehook/sidehook/matcher"
	"github.com/sidehook/sidehook/proxy"
	"github.com/sidehook/sidehook/queue"
	"github.com/sidehook/sidehook/queue/jsstore"
)

// Version is sent as the deliveries' User-Agent (sidehook/<version>).
const Version = "0.1.0"

const (
	defaultMaxBody           = 10 << 20
	defaultManagementService = "WebhooksService"
	defaultResolveTTL        = 10 * time.Minute
)

func init() {
	caddy.RegisterModule(Handler{})
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.sidehook",
		New: func() caddy.Module { return new(Handler) },
	}
}

// handlerState is everything Provision derives from the config; the request path reads only this.
type handlerState struct {
	logger      *zap.Logger
	app         *App
	queueDir    string
	store       *matcher.Store
	neverFire   *matcher.PatternSet
	nesting     *proxy.Nesting
	redactor    *proxy.Redactor
	fanout      matcher.Fanout
	payload     func(proxy.Envelope, *proxy.Event) []byte
	maxBody     int64
	fireOnError bool
	delivery    queue.Config
	identity    *identifier
	management  string // "" when management is off
	metrics     *metrics

	// fireNotifications: see Handler.FireNotifications.
	fireNotifications bool
	// releaseSubscriptions, in cluster mode, gives back this config's use of the cluster's subscription
	// storage (clustersubs.go).
	releaseSubscriptions func()
}

// Provision compiles the config. It must stay cheap and must not take the queue's Badger lock: it also runs
// for `caddy validate` and `caddy adapt`, possibly next to a running instance that holds the queue. The queue is
// opened by the sidehook app when the config starts.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.applyPreset()
	rt := &h.rt
	rt.logger = ctx.Logger()

	rt.fireOnError = h.FireOnError
	rt.fireNotifications = h.FireNotifications
	rt.maxBody = h.MaxBody
	if rt.maxBody <= 0 {
		rt.maxBody = defaultMaxBody
	}
	var err error
	if rt.neverFire, err = matcher.NewPatternSet(h.NeverFire); err != nil {
		return fmt.Errorf("never_fire: %w", err)
	}
	if rt.nesting, err = h.compileNesting(); err != nil {
		return err
	}
	rt.redactor = h.compileRedactor()
	fanout := h.Fanout
	if fanout == "" {
		fanout = "all"
	}
	if rt.fanout, err = matcher.ParseFanout(fanout); err != nil {
		return err
	}
	if rt.payload, err = payloadBuilder(h.Payload); err != nil {
		return err
	}
	if h.Management != nil {
		rt.management = h.Management.Service
		if rt.management == "" {
			rt.management = defaultManagementService
		}
	}
	if rt.delivery, err = h.compileDelivery(); err != nil {
		return err
	}
	open, err := h.compileQueue(rt.delivery.Effective().Timeout)
	if err != nil {
		return err
	}
	if rt.identity, err = h.compileIdentity(); err != nil {
		return err
	}

	static, err := h.compileStatic()
	if err != nil {
		return err
	}
	subs := matcher.StoreConfig{Storage: ctx.Storage(), Static: static, Logger: rt.logger.Named("subscriptions")}
	if h.Cluster != nil {
		// The cluster's bucket, watched; reached in the background, so that NATS being away neither fails
		// nor delays this config (the static subscriptions serve meanwhile).
		cs, err := useClusterSubscriptions(rt.queueDir, h.Cluster.subscriptionsConfig(caddy.NewReplacer(), subs.Logger), subs.Logger)
		if err != nil {
			return fmt.Errorf("cluster subscriptions: %w", err)
		}
		changed, stopWatching := cs.watch()
		rt.releaseSubscriptions = func() { stopWatching(); releaseClusterSubscriptions(rt.queueDir) }
		subs.Storage, subs.Changed, subs.LoadLater = cs, changed, true
	}
	rt.store, err = matcher.NewStore(subs)
	if err != nil {
		return fmt.Errorf("loading subscriptions: %w", err)
	}
	rt.store.Start()

	if rt.metrics, err = newMetrics(ctx.GetMetricsRegistry()); err != nil {
		return err
	}

	appModule, err := ctx.App("sidehook")
	if err != nil {
		return fmt.Errorf("loading the sidehook app: %w", err)
	}
	rt.app = appModule.(*App)
	rt.delivery.OnAttempt = rt.metrics.observeAttempt
	if err := rt.app.register(rt.queueDir, rt.delivery, rt.store, rt.metrics, open, h.Cluster != nil); err != nil {
		return err
	}
	rt.app.limitMemory(h.MemoryBudget)
	return nil
}

// Cleanup stops what Provision started. The queue itself belongs to the app and the usage pool. On a reload
// Caddy runs Cleanup while requests of this config may still be running (the http app's Stop does not wait
// for them), so it only stops the store's poller: the store's last index, its writes to storage and the
// identity cache stay usable by those requests, and the new config's store picks their changes up by polling.
func (h *Handler) Cleanup() error {
	if h.rt.store != nil {
		if h.rt.app != nil {
			h.rt.app.unregister(h.rt.queueDir, h.rt.store)
		}
		h.rt.store.Stop()
	}
	if h.rt.releaseSubscriptions != nil {
		h.rt.releaseSubscriptions()
	}
	return nil
}

// compileQueue names the handler's queue in rt.queueDir and returns how to open it: the Badger directory
// queue_dir (default {Caddy data dir}/sidehook), or in cluster mode the JetStream store of the cluster. It
// opens nothing: the app does when the config starts.
func (h *Handler) compileQueue(attemptTimeout time.Duration) (queueOpener, error) {
	rt := &h.rt
	if h.Cluster != nil {
		if h.QueueDir != "" {
			return nil, errors.New("queue_dir and cluster exclude each other: in cluster mode the queue lives in NATS JetStream")
		}
		cfg := h.Cluster.storeConfig(caddy.NewReplacer())
		if err := cfg.Check(); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		if lease, least := time.Duration(h.Cluster.ClaimLease), leastClaimLease(attemptTimeout); lease != 0 && lease < least {
			return nil, fmt.Errorf("cluster claim_lease %s must be at least %s: three delivery timeouts (%s) and %s", lease, least, attemptTimeout, claimLeaseMargin)
		}
		rt.queueDir = h.Cluster.queueKey()
		return func(logger *zap.Logger) (*queue.Queue, error) {
			st, err := jsstore.Open(cfg)
			if err != nil {
				return nil, err
			}
			return queue.New(st, logger), nil
		}, nil
	}
	dir := h.QueueDir
	if dir == "" {
		dir = filepath.Join(caddy.AppDataDir(), "sidehook")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("queue_dir %q: %w", dir, err)
	}
	rt.queueDir = abs
	return func(logger *zap.Logger) (*queue.Queue, error) { return queue.Open(abs, logger) }, nil
}

func (h *Handler) compileNesting() (*proxy.Nesting, error) {
	n := &proxy.Nesting{}
	for method, shape := range h.Multicall {
		if n.Multicall == nil {
			n.Multicall = map[string]proxy.MulticallShape{}
		}
		s, err := multicallShape(shape)
		if err != nil {
			return nil, fmt.Errorf("multicall %s: %w", method, err)
		}
		n.Multicall[method] = s
	}
	for method, idx := range h.Wrapper {
		if idx < 0 {
			return nil, fmt.Errorf("wrapper %s: param index must be >= 0", method)
		}
		if n.Wrapper == nil {
			n.Wrapper = map[string]int{}
		}
		n.Wrapper[method] = idx
	}
	return n, nil
}

// compileRedactor builds the redaction rules. redact_key adds to the default keys rather than replacing them:
// listing one more key must never make passwords start to be stored.
func (h *Handler) compileRedactor() *proxy.Redactor {
	rd := &proxy.Redactor{SessionParam: -1, Paths: h.RedactPaths}
	rd.Keys = append(proxy.DefaultRedactKeys(), h.RedactKeys...)
	if h.SessionParam != nil {
		rd.SessionParam = *h.SessionParam
	}
	return rd
}

// compileStatic turns `subscribe` lines into read-only subscriptions. Their uid is derived from their content
// so that it is the same after a reload or a restart: queued jobs find their subscription (and its secret) again.
func (h *Handler) compileStatic() ([]*matcher.Subscription, error) {
	subs := make([]*matcher.Subscription, 0, len(h.Subscribe))
	for _, s := range h.Subscribe {
		// The checks of the line as written, the Caddyfile parser's too: a JSON config never met them.
		if err := checkSubscribePattern(s.Pattern); err != nil {
			return nil, fmt.Errorf("subscribe %s: %w", s.Pattern, err)
		}
		if err := checkSubscribeURL(s.URL); err != nil {
			return nil, fmt.Errorf("subscribe %s: %w", s.Pattern, err)
		}
		if err := checkSubscribeSecret(s.Secret); err != nil {
			return nil, fmt.Errorf("subscribe %s %s: %w", s.Pattern, s.URL, err)
		}
		// What runtime placeholders give can only be checked once they are replaced.
		webhookURL, err := resolveURL(s.URL)
		if err != nil {
			return nil, fmt.Errorf("subscribe %s %s: %w", s.Pattern, s.URL, err)
		}
		// The error does not quote what the placeholders gave: a password maybe.
		if webhookURL != s.URL && validateWebhookURL(webhookURL) != nil {
			return nil, fmt.Errorf("subscribe %s %s: once its placeholders are replaced, the URL is not an absolute http(s) URL with a host", s.Pattern, s.URL)
		}
		secret, err := resolveSecret(s.Secret)
		if err != nil {
			return nil, fmt.Errorf("subscribe %s %s: secret: %w", s.Pattern, s.URL, err)
		}
		if secret != s.Secret {
			if err := matcher.ValidateSecret(secret); err != nil {
				return nil, fmt.Errorf("subscribe %s %s: secret: %w", s.Pattern, s.URL, err)
			}
		}
		subs = append(subs, &matcher.Subscription{
			// The uid hashes the URL as written: a password its placeholder gives may change without orphaning jobs.
			UID:         matcher.StaticUID(s.Pattern, s.URL, s.Client, s.User),
			ServiceCall: s.Pattern,
			WebhookURL:  webhookURL,
			ClientID:    s.Client,
			UserID:      s.User,
			KlantGlobal: s.User == "",
			Secret:      secret,
			Static:      true,
		})
	}
	return subs, nil
}

// mergeFieldPlaceholder stands in for the OTYS merge fields while a URL is checked: url.Parse would reject
// their '%' as a bad escape.
var mergeFieldPlaceholder = strings.NewReplacer("{%user.clientId%}", "0", "{%user.internalId%}", "0")

// validateWebhookURL checks the shape of a webhook URL: absolute http(s) with a host. Where the host may point
// (private ranges…) is checked separately, with DNS, by the destination guard.
func validateWebhookURL(raw string) error {
	u, err := url.Parse(mergeFieldPlaceholder.Replace(raw))
	if err != nil {
		return fmt.Errorf("webhookUrl %q is not a valid URL: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("webhookUrl %q must be an absolute http or https URL", raw)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("webhookUrl %q has no host", raw)
	}
	return nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
