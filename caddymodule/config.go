package caddymodule

import (
	"github.com/caddyserver/caddy/v2"
)

// Handler is the JSON face of the `sidehook` directive (docs/configuration.md). Every Caddyfile line has a
// field here so that `caddy adapt` prints a config that means the same thing; defaults and the preset are
// applied in Provision, not at parse time, so an adapted config stays as short as the Caddyfile it came from.
type Handler struct {
	// Preset fills every field below that is left unset; "otys" is the only one (docs/configuration.md).
	Preset string `json:"preset,omitempty"`
	// QueueDir is the Badger directory; default {Caddy data dir}/sidehook.
	QueueDir string `json:"queue_dir,omitempty"`
	// Cluster puts the queue in NATS JetStream instead of QueueDir, shared by every instance pointed at it.
	Cluster *ClusterConfig `json:"cluster,omitempty"`
	// SessionParam is the params index holding the caller's session or token; it is replaced by null
	// everywhere it is stored or sent, and it is what a `resolve` identity sends to the upstream.
	SessionParam *int `json:"session_param,omitempty"`
	// Identity says who the caller is: placeholders, or an upstream method that resolves the session.
	Identity *IdentityConfig `json:"identity,omitempty"`
	// Management, when set, answers <service>.getList/add/update/delete/getLogs/rotateSecret/retry locally.
	Management *ManagementConfig `json:"management,omitempty"`
	// NeverFire patterns are never fired and never stored (logins, logouts, session checks). A pattern of one
	// segment without `*` (`login`) also covers every namespaced form of it (`Otys.Services.login`, `X.login`).
	NeverFire []string `json:"never_fire,omitempty"`
	// RedactPaths are gjson paths into the event ({"request":{"method","args"},"result"}) blanked before storage.
	RedactPaths []string `json:"redact_paths,omitempty"`
	// RedactKeys are object keys blanked wherever they occur; nil means the defaults
	// (password passwd secret token apikey api_key authorization).
	RedactKeys []string `json:"redact_keys,omitempty"`
	// Multicall maps a method to the shape of its nested calls: "otys" or "xmlrpc".
	Multicall map[string]string `json:"multicall,omitempty"`
	// Wrapper maps a method to the index of the param that is itself a whole request.
	Wrapper map[string]int `json:"wrapper,omitempty"`
	// Subscribe holds static, read-only subscriptions.
	Subscribe []StaticSubscription `json:"subscribe,omitempty"`
	// Fanout is "all" (default) or "one" (per client and call one fires, the user-specific one preferred).
	Fanout string `json:"fanout,omitempty"`
	// Payload is the body format: "otys" (default) or "jsonrpc".
	Payload string `json:"payload,omitempty"`
	// FireOnError also fires calls that returned a JSON-RPC error.
	FireOnError bool `json:"fire_on_error,omitempty"`
	// FireNotifications also fires notifications (calls without an id, at the top level or in a batch, and the
	// calls a notification carries), which are silent by default. A notification gets no response of its own,
	// so there is nothing to pair it with: it fires when the upstream answered the HTTP request with 2xx, and
	// its event has no result (`"result":null` in the otys payload, `"response":null` in the jsonrpc one).
	FireNotifications bool `json:"fire_notifications,omitempty"`
	// MaxBody is the largest request or response inspected, in bytes; larger ones pass unobserved. Default 10 MiB.
	MaxBody int64 `json:"max_body,omitempty"`
	// MemoryBudget caps, in bytes, what all observed calls of the process may hold in memory at once: held
	// responses and every copy made while their events are built and stored. Over it, calls pass through
	// unobserved. Default 256 MiB; when handlers set different values, the smallest applies.
	MemoryBudget int64 `json:"memory_budget,omitempty"`
	// Delivery tunes the delivery engine shared by every handler with the same QueueDir.
	Delivery *DeliveryConfig `json:"delivery,omitempty"`

	rt handlerState
}

// IdentityConfig is the `identity` block.
type IdentityConfig struct {
	// Client and User are placeholders or literals, e.g. {http.request.header.X-Client-Id}.
	Client string `json:"client,omitempty"`
	User   string `json:"user,omitempty"`
	// Resolve asks the upstream who owns a session instead.
	Resolve *ResolveConfig `json:"resolve,omitempty"`
}

// ResolveConfig is `identity { resolve <method> { client <path>; user <path>; ttl <d>; logout <pattern>… } }`.
type ResolveConfig struct {
	Method string `json:"method"`
	// Client and User are gjson paths into the method's result.
	Client string         `json:"client,omitempty"`
	User   string         `json:"user,omitempty"`
	TTL    caddy.Duration `json:"ttl,omitempty"`
	// Logout patterns name the calls that end the session in params[session_param]: once the upstream answers
	// one with a success, the cached identity of that session is forgotten at once instead of at TTL.
	Logout []string `json:"logout,omitempty"`
}

// ManagementConfig is the `management [<service>]` line.
type ManagementConfig struct {
	// Service is the service name whose ops are answered locally; default WebhooksService.
	Service string `json:"service,omitempty"`
}

// StaticSubscription is one `subscribe <pattern> <url> { … }` block.
type StaticSubscription struct {
	Pattern string `json:"pattern"`
	// URL may hold runtime placeholders too, like Secret below: a receiver's basic-auth password as
	// https://hook:{env.HOOK_PASSWORD}@hooks.example.org/x stays out of the JSON config the same way. The
	// merge fields {%user.clientId%} and {%user.internalId%} are not placeholders: each call fills them in.
	URL string `json:"url"`
	// Secret signs the deliveries (whsec_…). It may be, or contain, a runtime placeholder: {env.NAME} (an
	// environment variable) or {file./absolute/path} (a file's content, one trailing newline dropped). The
	// placeholder is kept as written in the JSON config, so `caddy adapt` output and the admin API's
	// GET /config/ never carry the secret, and it is replaced when the config is loaded; an unknown placeholder
	// or an empty value is a config error. The Caddyfile form {$NAME} is replaced at adapt time instead and so
	// puts the secret in the JSON.
	Secret string `json:"secret"`
	Client string `json:"client,omitempty"`
	User   string `json:"user,omitempty"`
}

// DeliveryConfig is the `delivery` block (docs/configuration.md#delivery).
type DeliveryConfig struct {
	Workers          int              `json:"workers,omitempty"`
	PerDestination   int              `json:"per_destination,omitempty"`
	Timeout          caddy.Duration   `json:"timeout,omitempty"`
	Retry            []caddy.Duration `json:"retry,omitempty"`
	DailyLimit       *int             `json:"daily_limit,omitempty"`
	AllowDestination []string         `json:"allow_destination,omitempty"`
	KeepLogs         caddy.Duration   `json:"keep_logs,omitempty"`
	// Paused stores events without delivering them (maintenance, benchmarks); spelled `paused` in the
	// delivery block. Delivery starts again when a config without it is loaded.
	Paused bool `json:"paused,omitempty"`
	// GCInterval is how often the queue deletes expired logs' bodies and gives their disk space back;
	// default 5m. Spelled `gc_interval` in the delivery block. Shorter means disk use follows a drained
	// backlog down sooner, at the cost of more frequent compaction work.
	GCInterval caddy.Duration `json:"gc_interval,omitempty"`
}
