package jsstore

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"
)

// Config says where the JetStream servers are, how to authenticate and how the store's streams are laid out.
type Config struct {
	// URLs of the NATS servers (every node of a cluster, or some of them: the client learns the rest).
	URLs []string
	// Authentication: at most one of Token, User and Password, or CredsFile (a JWT and NKey seed).
	Token     string
	User      string
	Password  string
	CredsFile string
	// TLS: CAFile verifies the servers; CertFile and KeyFile are the client's certificate, for servers that
	// require one. Any of them set turns TLS on.
	CAFile   string
	CertFile string
	KeyFile  string

	// Replicas of every stream: 1 on a single node, 3 in a cluster, so that a write acknowledged by a
	// quorum survives the loss of a node. Default 1.
	Replicas int
	// Prefix names this deployment's streams, so that several deployments share one NATS without seeing
	// each other's queue. Letters, digits, '-' and '_'. Default "sidehook".
	Prefix string

	// ConnectTimeout bounds the first connection. Default 5s.
	ConnectTimeout time.Duration
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
	defaultConnectTimeout = 5 * time.Second
	defaultRequestTimeout = 5 * time.Second
	defaultClaimLease     = 2 * time.Minute
	defaultRetryPoll      = time.Second
)

// prefixPattern keeps the prefix valid in stream and bucket names.
var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// withDefaults returns c with zero values replaced by defaults, or an error when c cannot work.
func (c Config) withDefaults() (Config, error) {
	if len(c.URLs) == 0 {
		return c, errors.New("jsstore: no NATS URLs")
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
	if c.Token != "" && (c.User != "" || c.CredsFile != "") || c.User != "" && c.CredsFile != "" {
		return c, errors.New("jsstore: use one of token, user and password, or a creds file")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return c, errors.New("jsstore: a client certificate needs both its cert and key files")
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

// natsOptions are the client options c asks for. The client reconnects forever: a store outlives a NATS
// outage, and Writable reports it meanwhile.
func (c Config) natsOptions() []nats.Option {
	opts := []nats.Option{
		nats.Name("sidehook " + c.Prefix),
		nats.Timeout(c.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
	}
	switch {
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.CredsFile != "":
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	return opts
}
