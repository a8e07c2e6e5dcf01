package jsstore

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/sidehook/sidehook/internal/natsconn"
)

// Config says where the JetStream servers are, how to authenticate and how the store's streams are laid out.
type Config struct {
	// How to reach NATS (URLs, credentials, TLS, ConnectTimeout): one definition, shared with cluster mode's
	// subscription storage, so that cfg.URLs, cfg.Token... read the same in both.
	natsconn.Config

	// Replicas of every stream: 1 on a single node, 3 in a cluster, so that a write acknowledged by a
	// quorum survives the loss of a node. Default 1.
	Replicas int
	// Prefix names this deployment's streams, so that several deployments share one NATS without seeing
	// each other's queue. Letters, digits, '-' and '_'. Default "sidehook".
	Prefix string

	// RequestTimeout bounds each JetStream request (a publish's acknowledgement, a read). Default 5s.
	RequestTimeout time.Duration
	// ClaimLease is how long a claim lasts when the process holding it neither records nor releases it (it
	// died, or lost its connection): then the job is due again for another process. It must exceed the
	// longest attempt plus the time to record it. Default 2 minutes.
	ClaimLease time.Duration
	// RetryPoll bounds how long Retry waits between looks at a claimed job whose claim has not ended (it also
	// wakes on the job's change). Default 1s.
	RetryPoll time.Duration
}

const (
	defaultPrefix         = "sidehook"
	defaultConnectTimeout = natsconn.DefaultConnectTimeout
	defaultRequestTimeout = 5 * time.Second
	defaultClaimLease     = 2 * time.Minute
	defaultRetryPoll      = time.Second
)

// prefixPattern keeps the prefix valid in stream and bucket names.
var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// withDefaults returns c with zero values replaced by defaults, or an error when c cannot work.
func (c Config) withDefaults() (Config, error) {
	if err := c.Config.Validate(); err != nil {
		return c, fmt.Errorf("jsstore: %w", errors.Unwrap(err))
	}
	if c.Prefix == "" {
		c.Prefix = defaultPrefix
	}
	if !prefixPattern.MatchString(c.Prefix) {
		return c, fmt.Errorf("jsstore: prefix %q: only letters, digits, '-' and '_'", c.Prefix)
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return c, fmt.Errorf("jsstore: %d replicas: JetStream allows 1 to 5", c.Replicas)
	}
	c.ConnectTimeout = orDefault(c.ConnectTimeout, defaultConnectTimeout)
	c.RequestTimeout = orDefault(c.RequestTimeout, defaultRequestTimeout)
	c.ClaimLease = orDefault(c.ClaimLease, defaultClaimLease)
	c.RetryPoll = orDefault(c.RetryPoll, defaultRetryPoll)
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
