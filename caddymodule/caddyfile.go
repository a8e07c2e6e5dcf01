package caddymodule

import (
	"errors"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/sidehook/sidehook/matcher"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("sidehook", parseCaddyfile)
	// sidehook must see the call before reverse_proxy forwards it, so users need no `order` line.
	httpcaddyfile.RegisterDirectiveOrder("sidehook", httpcaddyfile.Before, "reverse_proxy")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(Handler)
	if err := handler.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return handler, nil
}

// UnmarshalCaddyfile reads the `sidehook` directive (every line explained in docs/configuration.md). Its syntax,
// every line optional:
//
//	sidehook {
//		preset otys
//		queue_dir <path>
//		cluster {
//			nats     <url...>
//			token    <token>
//			user     <name> <password>
//			creds    <file>
//			tls      <ca file> [<cert file> <key file>]
//			replicas <n>
//			prefix   <name>
//			claim_lease <duration>
//		}
//		session_param <index>
//		identity {
//			client <placeholder or literal>
//			user   <placeholder or literal>
//			# or, instead of client and user:
//			resolve <method> {
//				client <gjson path into the result>
//				user   <gjson path into the result>
//				ttl    <duration>
//				logout <patterns...>
//			}
//		}
//		management [<service>]
//		never_fire <patterns...>
//		redact_path <gjson paths...>
//		redact_key <keys...>
//		multicall <method> otys|xmlrpc
//		wrapper <method> <param index>
//		subscribe <pattern> <http(s) url> {
//			secret whsec_<base64 key of 24+ bytes>
//			client <client id>
//			user   <user id>
//		}
//		fanout all|one
//		payload otys|jsonrpc
//		fire_on_error
//		fire_notifications
//		max_body <size>
//		memory_budget <size>
//		delivery {
//			workers <n>
//			per_destination <n>
//			timeout <duration>
//			retry <durations...>
//			daily_limit <n>
//			allow_destination <ip or cidr...>
//			keep_logs <duration>
//			paused
//		}
//	}
//
// never_fire, redact_path, redact_key, multicall, wrapper, subscribe, allow_destination and logout add up over
// repeated lines (a repeated multicall or wrapper method takes the last shape or index); every other line or
// block, retry and a whole identity or delivery block included, is replaced by a later one. A subscribe needs
// its secret; workers and per_destination are at least 1; daily_limit 0 means no limit. Sizes are byte counts
// with an optional unit (10MiB, 64MB); durations are Caddy's (500ms, 15s, 2h, 30d).
//
// Defaults and the preset are not filled in here but in Provision, so that `caddy adapt` prints only what the
// Caddyfile says. Every value that can be checked without I/O is checked here, so that `caddy adapt` and
// `caddy validate` name the offending line. The golden files in testdata/caddyfile_adapt show the JSON each
// line becomes.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if err := h.unmarshalLine(d); err != nil {
			return err
		}
	}
	return nil
}

func (h *Handler) unmarshalLine(d *caddyfile.Dispenser) error {
	switch d.Val() {
	case "preset":
		name, err := oneArg(d)
		if err != nil {
			return err
		}
		if name != presetOTYS {
			return d.Errf("unknown preset %q (known: %s)", name, presetOTYS)
		}
		h.Preset = name
	case "queue_dir":
		dir, err := oneArg(d)
		if err != nil {
			return err
		}
		h.QueueDir = dir
	case "session_param":
		n, err := intArg(d)
		if err != nil {
			return err
		}
		h.SessionParam = &n
	case "identity":
		if d.NextArg() {
			return d.ArgErr()
		}
		id, err := unmarshalIdentity(d)
		if err != nil {
			return err
		}
		h.Identity = id
	case "management":
		m := &ManagementConfig{}
		if d.NextArg() {
			m.Service = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		}
		h.Management = m
	case "never_fire":
		patterns, err := patternArgs(d)
		if err != nil {
			return err
		}
		h.NeverFire = append(h.NeverFire, patterns...)
	case "redact_path":
		paths := d.RemainingArgs()
		if len(paths) == 0 {
			return d.ArgErr()
		}
		h.RedactPaths = append(h.RedactPaths, paths...)
	case "redact_key":
		keys := d.RemainingArgs()
		if len(keys) == 0 {
			return d.ArgErr()
		}
		h.RedactKeys = append(h.RedactKeys, keys...)
	case "multicall":
		args := d.RemainingArgs()
		if len(args) != 2 {
			return d.ArgErr()
		}
		if _, err := multicallShape(args[1]); err != nil {
			return d.Errf("multicall %v", err)
		}
		if h.Multicall == nil {
			h.Multicall = map[string]string{}
		}
		h.Multicall[args[0]] = args[1]
	case "wrapper":
		args := d.RemainingArgs()
		if len(args) != 2 {
			return d.ArgErr()
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 0 {
			return d.Errf("wrapper param index must be a number >= 0, got %q", args[1])
		}
		if h.Wrapper == nil {
			h.Wrapper = map[string]int{}
		}
		h.Wrapper[args[0]] = n
	case "subscribe":
		sub, err := unmarshalSubscribe(d)
		if err != nil {
			return err
		}
		h.Subscribe = append(h.Subscribe, sub)
	case "fanout":
		v, err := oneArg(d)
		if err != nil {
			return err
		}
		if v != "all" && v != "one" {
			return d.Errf("fanout must be all or one, got %q", v)
		}
		h.Fanout = v
	case "payload":
		v, err := oneArg(d)
		if err != nil {
			return err
		}
		if _, err := payloadBuilder(v); err != nil {
			return d.Err(err.Error())
		}
		h.Payload = v
	case "fire_on_error":
		if d.NextArg() {
			return d.ArgErr()
		}
		h.FireOnError = true
	case "fire_notifications":
		if d.NextArg() {
			return d.ArgErr()
		}
		h.FireNotifications = true
	case "max_body":
		size, err := sizeArg(d)
		if err != nil {
			return err
		}
		h.MaxBody = size
	case "memory_budget":
		size, err := sizeArg(d)
		if err != nil {
			return err
		}
		h.MemoryBudget = size
	case "cluster":
		if d.NextArg() {
			return d.ArgErr()
		}
		c, err := unmarshalCluster(d)
		if err != nil {
			return err
		}
		h.Cluster = c
	case "delivery":
		if d.NextArg() {
			return d.ArgErr()
		}
		dc, err := unmarshalDelivery(d)
		if err != nil {
			return err
		}
		h.Delivery = dc
	default:
		return d.Errf("unknown sidehook subdirective %q", d.Val())
	}
	return nil
}

func unmarshalIdentity(d *caddyfile.Dispenser) (*IdentityConfig, error) {
	id := &IdentityConfig{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "client":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			id.Client = v
		case "user":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			id.User = v
		case "resolve":
			method, err := oneArgKeepBlock(d)
			if err != nil {
				return nil, err
			}
			rc := &ResolveConfig{Method: method}
			for inner := d.Nesting(); d.NextBlock(inner); {
				switch d.Val() {
				case "client":
					if rc.Client, err = oneArg(d); err != nil {
						return nil, err
					}
				case "user":
					if rc.User, err = oneArg(d); err != nil {
						return nil, err
					}
				case "ttl":
					v, err := oneArg(d)
					if err != nil {
						return nil, err
					}
					dur, err := caddy.ParseDuration(v)
					if err != nil || dur <= 0 {
						return nil, d.Errf("resolve ttl: bad duration %q", v)
					}
					rc.TTL = caddy.Duration(dur)
				case "logout":
					patterns, err := patternArgs(d)
					if err != nil {
						return nil, err
					}
					rc.Logout = append(rc.Logout, patterns...)
				default:
					return nil, d.Errf("unknown resolve subdirective %q", d.Val())
				}
			}
			id.Resolve = rc
		default:
			return nil, d.Errf("unknown identity subdirective %q", d.Val())
		}
	}
	if id.Resolve != nil && (id.Client != "" || id.User != "") {
		return nil, d.Err("identity: use either client/user placeholders or resolve, not both")
	}
	return id, nil
}

func unmarshalSubscribe(d *caddyfile.Dispenser) (StaticSubscription, error) {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return StaticSubscription{}, d.ArgErr()
	}
	sub := StaticSubscription{Pattern: args[0], URL: args[1]}
	if err := checkSubscribePattern(sub.Pattern); err != nil {
		return sub, d.Errf("subscribe: %v", err)
	}
	if err := checkSubscribeURL(sub.URL); err != nil {
		return sub, d.Errf("subscribe: %v", err)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		v, err := oneArg(d)
		if err != nil {
			return sub, err
		}
		switch name {
		case "secret":
			sub.Secret = v
		case "client":
			sub.Client = v
		case "user":
			sub.User = v
		default:
			return sub, d.Errf("unknown subscribe subdirective %q", name)
		}
	}
	if err := checkSubscribeSecret(sub.Secret); errors.Is(err, errSecretRequired) {
		// The block is over: the line number alone would not say which subscription lacks its secret.
		return sub, d.Errf("subscribe %s %s: %v", sub.Pattern, sub.URL, err)
	} else if err != nil {
		return sub, d.Errf("subscribe: %v", err)
	}
	return sub, nil
}

func unmarshalDelivery(d *caddyfile.Dispenser) (*DeliveryConfig, error) {
	dc := &DeliveryConfig{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "workers", "per_destination", "daily_limit":
			name := d.Val()
			n, err := intArg(d)
			if err != nil {
				return nil, err
			}
			switch {
			case name == "daily_limit":
				dc.DailyLimit = &n
			case n < 1:
				return nil, d.Errf("%s must be at least 1, got %d", name, n)
			case name == "workers":
				dc.Workers = n
			default:
				dc.PerDestination = n
			}
		case "timeout", "keep_logs", "gc_interval":
			name := d.Val()
			dur, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			switch name {
			case "timeout":
				dc.Timeout = dur
			case "keep_logs":
				dc.KeepLogs = dur
			default:
				dc.GCInterval = dur
			}
		case "retry":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			dc.Retry = dc.Retry[:0]
			for _, a := range args {
				dur, err := caddy.ParseDuration(a)
				if err != nil || dur < 0 {
					return nil, d.Errf("retry: bad duration %q", a)
				}
				dc.Retry = append(dc.Retry, caddy.Duration(dur))
			}
		case "allow_destination":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			for _, a := range args {
				if _, err := parsePrefix(a); err != nil {
					return nil, d.Errf("allow_destination: %v", err)
				}
			}
			dc.AllowDestination = append(dc.AllowDestination, args...)
		case "paused":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			dc.Paused = true
		default:
			return nil, d.Errf("unknown delivery subdirective %q", d.Val())
		}
	}
	return dc, nil
}

// oneArg reads exactly one argument and nothing else on the line.
func oneArg(d *caddyfile.Dispenser) (string, error) {
	v, err := oneArgKeepBlock(d)
	if err != nil {
		return "", err
	}
	if d.NextBlock(d.Nesting()) {
		return "", d.Errf("%s takes no block", v)
	}
	return v, nil
}

// oneArgKeepBlock reads exactly one argument and leaves a following block for the caller.
func oneArgKeepBlock(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

func intArg(d *caddyfile.Dispenser) (int, error) {
	name := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, d.Errf("%s: want a whole number >= 0, got %q", name, v)
	}
	return n, nil
}

// sizeArg reads one byte size greater than zero, with an optional unit (10MiB, 64MB).
func sizeArg(d *caddyfile.Dispenser) (int64, error) {
	name := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	size, err := humanize.ParseBytes(v)
	if err != nil || size == 0 {
		return 0, d.Errf("%s: bad size %q", name, v)
	}
	return int64(size), nil
}

func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil || dur <= 0 {
		return 0, d.Errf("%s: bad duration %q", name, v)
	}
	return caddy.Duration(dur), nil
}

func patternArgs(d *caddyfile.Dispenser) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	for _, p := range args {
		if err := matcher.ValidatePattern(p); err != nil {
			return nil, d.Errf("%v", err)
		}
	}
	return args, nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Handler)(nil)
