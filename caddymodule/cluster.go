package caddymodule

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/sidehook/sidehook/internal/natsconn"
	"github.com/sidehook/sidehook/internal/natskv"
	"github.com/sidehook/sidehook/queue/jsstore"
)

// ClusterConfig is the `cluster` block: the handler's queue (events, jobs, delivery logs, daily limits) lives
// in NATS JetStream instead of queue_dir, shared by every sidehook instance pointed at the same servers and
// prefix, so that deliveries, getLogs, retry and daily_limit are cluster-wide (docs/cluster.md).
type ClusterConfig struct {
	// NATS lists server URLs (nats://host:4222, tls://host:4222): every node of the cluster, or some of them.
	NATS []string `json:"nats"`
	// Authentication: a token, a user and password, or a creds file (JWT and NKey seed); at most one.
	// Placeholders such as {env.NATS_TOKEN} are replaced when the config loads.
	Token    string `json:"token,omitempty"`
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	Creds    string `json:"creds,omitempty"`
	// TLS: the CA that verifies the servers, and the client certificate for servers that require one.
	TLS *ClusterTLS `json:"tls,omitempty"`
	// Replicas of every stream: 3 in a three-node cluster, so that a write survives losing a node. Default 1.
	Replicas int `json:"replicas,omitempty"`
	// Prefix names this deployment's streams, so that several deployments share one NATS. Default "sidehook".
	Prefix string `json:"prefix,omitempty"`
	// ClaimLease is how long a job claimed by an instance that then dies stays claimed before another
	// instance attempts it; at least leastClaimLease of the delivery timeout. Default 2 minutes.
	ClaimLease caddy.Duration `json:"claim_lease,omitempty"`
}

// claimLeaseMargin is what a claim must last beyond the attempts it may wait for and its own: the time to
// record the outcome.
const claimLeaseMargin = 5 * time.Second

// leastClaimLease is the shortest lease that never ends under a live instance's claim, so that no job is
// attempted by two instances at once. The engine claims up to twice per_destination jobs ahead of free
// slots (queue/destinations.go), so a claimed job may wait for two rounds of attempts before its own: three
// attempt timeouts, and the margin to record the outcome. (Its breaker gives claimed-ahead jobs back rather
// than hold them.)
func leastClaimLease(attemptTimeout time.Duration) time.Duration {
	return 3*attemptTimeout + claimLeaseMargin
}

// ClusterTLS holds file paths.
type ClusterTLS struct {
	CA   string `json:"ca,omitempty"`
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
}

// unmarshalCluster reads
//
//	cluster {
//		nats     <url...>
//		token    <token>
//		user     <name> <password>
//		creds    <file>
//		tls      <ca file> [<cert file> <key file>]
//		replicas <n>
//		prefix   <name>
//		claim_lease <duration>
//	}
func unmarshalCluster(d *caddyfile.Dispenser) (*ClusterConfig, error) {
	c := &ClusterConfig{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch name := d.Val(); name {
		case "nats":
			urls := d.RemainingArgs()
			if len(urls) == 0 {
				return nil, d.ArgErr()
			}
			c.NATS = append(c.NATS, urls...)
		case "token", "creds", "prefix":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			switch name {
			case "token":
				c.Token = v
			case "creds":
				c.Creds = v
			default:
				c.Prefix = v
			}
		case "user":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.Errf("user takes a name and a password")
			}
			c.User, c.Password = args[0], args[1]
		case "tls":
			args := d.RemainingArgs()
			if len(args) != 1 && len(args) != 3 {
				return nil, d.Errf("tls takes a CA file, then optionally a client certificate and key file")
			}
			c.TLS = &ClusterTLS{CA: args[0]}
			if len(args) == 3 {
				c.TLS.Cert, c.TLS.Key = args[1], args[2]
			}
		case "claim_lease":
			dur, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			c.ClaimLease = dur
		case "replicas":
			n, err := intArg(d)
			if err != nil {
				return nil, err
			}
			c.Replicas = n
		default:
			return nil, d.Errf("unknown cluster subdirective %q", name)
		}
	}
	if len(c.NATS) == 0 {
		return nil, d.Err("cluster needs at least one nats URL")
	}
	if err := c.storeConfig(caddy.NewEmptyReplacer()).Check(); err != nil {
		return nil, d.Errf("cluster: %v", err)
	}
	return c, nil
}

// connection is how to reach the cluster's NATS, placeholders replaced by repl: one for the queue and the
// subscriptions alike.
func (c *ClusterConfig) connection(repl *caddy.Replacer) natsconn.Config {
	conn := natsconn.Config{
		URLs:      c.NATS,
		Token:     repl.ReplaceAll(c.Token, ""),
		User:      repl.ReplaceAll(c.User, ""),
		Password:  repl.ReplaceAll(c.Password, ""),
		CredsFile: repl.ReplaceAll(c.Creds, ""),
	}
	if c.TLS != nil {
		conn.CAFile, conn.CertFile, conn.KeyFile = c.TLS.CA, c.TLS.Cert, c.TLS.Key
	}
	return conn
}

// storeConfig is the JetStream store's configuration, placeholders replaced by repl.
func (c *ClusterConfig) storeConfig(repl *caddy.Replacer) jsstore.Config {
	return jsstore.Config{Config: c.connection(repl), Replicas: c.Replicas, Prefix: c.Prefix, ClaimLease: time.Duration(c.ClaimLease)}
}

// subscriptionsConfig is the configuration of the cluster's subscription bucket, placeholders replaced by
// repl: the same servers, credentials and prefix as the queue's.
func (c *ClusterConfig) subscriptionsConfig(repl *caddy.Replacer, logger *zap.Logger) natskv.Config {
	return natskv.Config{Config: c.connection(repl), Replicas: c.Replicas, Prefix: c.Prefix, Logger: logger}
}

// queueKey names the cluster's queue where queue_dir names a directory: handlers with the same servers and
// prefix share one store and one delivery engine in the process, as handlers with the same queue_dir do. The
// key shows in logs, metrics and the admin API, so the URLs' credentials (nats://user:password@host or
// nats://token@host) are left out of it.
func (c *ClusterConfig) queueKey() string {
	urls := make([]string, len(c.NATS))
	for i, u := range c.NATS {
		urls[i] = withoutUserinfo(u)
	}
	slices.Sort(urls)
	urls = slices.Compact(urls)
	prefix := c.Prefix
	if prefix == "" {
		prefix = "sidehook"
	}
	return fmt.Sprintf("nats:%s@%s", prefix, strings.Join(urls, ","))
}

// withoutUserinfo is raw without the user, password or token before the host.
func withoutUserinfo(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		rest = rest[at+1:]
	}
	return scheme + "://" + rest
}
