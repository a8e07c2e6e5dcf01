package natskv

import (
	"fmt"
	"regexp"
	"time"

	"go.uber.org/zap"

	"github.com/sidehook/sidehook/internal/natsconn"
)

// Defaults of Config.
const (
	DefaultPrefix         = "sidehook"
	DefaultRequestTimeout = 5 * time.Second
	DefaultLockTTL        = 30 * time.Second
)

// minLockTTL is the shortest per-message TTL JetStream accepts.
const minLockTTL = time.Second

// Config says where the bucket is and how the storage behaves.
type Config struct {
	// How to reach NATS; embedded so that cfg.URLs, cfg.Token... read as in queue/jsstore's Config.
	natsconn.Config

	// Replicas of the bucket: 1 on a single node, 3 in a cluster, so that a write acknowledged by a quorum
	// survives the loss of a node. Default 1. Only used when this storage creates the bucket.
	Replicas int
	// Prefix names this deployment's bucket, <Prefix>_storage, as queue/jsstore names its buckets
	// <Prefix>_<kind>. Letters, digits, '-' and '_'. Default "sidehook".
	Prefix string
	// RequestTimeout bounds each JetStream request made without a deadline of the caller's. Default 5s.
	RequestTimeout time.Duration
	// LockTTL is how long a lock outlives its holder's last renewal: a holder renews it every third of it,
	// so a lock is lost only by a holder that stopped running or lost NATS for that long. Default 30s,
	// at least 1s (JetStream's shortest message TTL).
	LockTTL time.Duration
	// Logger, nil: zap.NewNop(). Receives what no caller can be told: a lost lock, a watch restarted.
	Logger *zap.Logger
}

// prefixPattern keeps the prefix valid in a bucket name.
var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Bucket is the name of the bucket the storage uses.
func (c Config) Bucket() string {
	prefix := c.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + "_storage"
}

// withDefaults returns c with zero values replaced by defaults, or an error when c cannot work.
func (c Config) withDefaults() (Config, error) {
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("natskv: %w", err)
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if !prefixPattern.MatchString(c.Prefix) {
		return c, fmt.Errorf("natskv: prefix %q: only letters, digits, '-' and '_'", c.Prefix)
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return c, fmt.Errorf("natskv: %d replicas: JetStream allows 1 to 5", c.Replicas)
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.LockTTL == 0 {
		c.LockTTL = DefaultLockTTL
	}
	if c.LockTTL < minLockTTL {
		return c, fmt.Errorf("natskv: lock TTL %v: JetStream's shortest is %v", c.LockTTL, minLockTTL)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c, nil
}
