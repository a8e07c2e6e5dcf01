// Package natsconn says how sidehook reaches NATS: the servers, the credentials and TLS, shared by every part
// that keeps state in JetStream (the subscription storage now, the queue store when it moves onto this type),
// so that an operator configures one connection, validated in one place, not one per consumer.
//
// Its fields and their meaning are those of queue/jsstore's Config, which predates it: jsstore can embed
// Config without changing how its fields are read.
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

// Validate reports a configuration that cannot work, before any connection is tried.
func (c Config) Validate() error {
	if len(c.URLs) == 0 {
		return errors.New("nats: no URLs")
	}
	if c.Token != "" && (c.User != "" || c.CredsFile != "") || c.User != "" && c.CredsFile != "" {
		return errors.New("nats: use one of token, user and password, or a creds file")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("nats: a client certificate needs both its cert and key files")
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
		return nil, fmt.Errorf("nats: connecting to %v: %w", c.URLs, err)
	}
	return nc, nil
}
