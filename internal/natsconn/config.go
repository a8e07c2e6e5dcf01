// Package natsconn says how sidehook reaches NATS: the servers, the credentials and TLS, shared by every part
// that keeps state in JetStream (the queue store, queue/jsstore, and cluster mode's subscription storage,
// internal/natskv), so that an operator configures one connection, validated in one place, not one per consumer.
package natsconn

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// DefaultConnectTimeout bounds the first connection when Config.ConnectTimeout is zero.
const DefaultConnectTimeout = 5 * time.Second

// reconnectWait is the pause between reconnection attempts: short, because every instance of a cluster
// waits on the same servers and a change made meanwhile is only seen once connected again.
const reconnectWait = 250 * time.Millisecond

// Config is where the NATS servers are and how to authenticate to them.
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
	// ConnectTimeout bounds the first connection. Default 5s.
	ConnectTimeout time.Duration
}

// The rules Validate checks, without a package prefix, so that a user of Config can report a broken rule in
// its own name (errors.Unwrap of Validate's error).
var (
	ErrNoURLs        = errors.New("no NATS URLs")
	ErrOneCredential = errors.New("use one of token, user and password, or a creds file")
	ErrCertWithKey   = errors.New("a client certificate needs both its cert and key files")
)

// Validate reports a configuration that cannot work, before any connection is tried.
func (c Config) Validate() error {
	switch {
	case len(c.URLs) == 0:
		return fmt.Errorf("nats: %w", ErrNoURLs)
	case c.Token != "" && (c.User != "" || c.CredsFile != "") || c.User != "" && c.CredsFile != "":
		return fmt.Errorf("nats: %w", ErrOneCredential)
	case (c.CertFile == "") != (c.KeyFile == ""):
		return fmt.Errorf("nats: %w", ErrCertWithKey)
	}
	return nil
}

// Options are the client options c asks for, named name (it shows in the servers' connection lists). The
// client reconnects forever: what sidehook keeps in JetStream outlives an outage of it.
func (c Config) Options(name string) []nats.Option {
	timeout := c.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
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

// Connect validates c and connects, with extra options after c's own (a caller's handlers).
func (c Config) Connect(name string, extra ...nats.Option) (*nats.Conn, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	nc, err := nats.Connect(strings.Join(c.URLs, ","), append(c.Options(name), extra...)...)
	if err != nil {
		// Not the URLs themselves: they may carry credentials (nats://user:password@host), and this error
		// is logged.
		return nil, fmt.Errorf("nats: connecting to %d server URLs: %w", len(c.URLs), err)
	}
	return nc, nil
}
