package queue

import (
	"context"
	"net/netip"
	"time"
)

// Config is the delivery behaviour, applied live by Queue.Configure.
type Config struct {
	Workers          int             // default 16
	PerDestination   int             // default 4
	Timeout          time.Duration   // per attempt, default 15s
	Retry            []time.Duration // delays between attempts; default 5s 5m 30m 2h 5h 10h 10h (8 attempts in all)
	DailyLimit       int             // default 10000 when DailyLimitSet is false; 0 = none
	DailyLimitSet    bool
	AllowDestination []netip.Prefix
	KeepLogs         time.Duration                                                // default 30 days
	UserAgent        string                                                       // default "sidehook/dev"
	LookupIP         func(ctx context.Context, host string) ([]netip.Addr, error) // nil: net.DefaultResolver
	Paused           bool                                                         // store but do not deliver (benchmarks, maintenance)
	OnAttempt        func(AttemptInfo)                                            // optional metrics hook, called after every attempt
	Now              func() time.Time                                             // nil: time.Now (tests)
	// GCInterval is how often the store does its housekeeping (badgerstore: expired logs' bodies deleted,
	// value log collected); default 5m. It is a Config field rather than anything read from the environment so that every knob of a queue
	// is in one place, visible in the config that set it.
	GCInterval time.Duration
}

// AttemptInfo describes one finished attempt for metrics.
type AttemptInfo struct {
	Outcome  string // "delivered", "retrying", "dead", "gone", "refused"
	Code     int
	Duration time.Duration // of the HTTP exchange
	Latency  time.Duration // Message.Created -> this attempt's end (call-to-delivery latency)
}

// Endpoints is how the queue learns subscription state at delivery time.
// Secrets are asked for at every attempt rather than stored with the message,
// so that no secret ever lands in queue_dir and a rotation or a deletion
// takes effect on the very next attempt.
type Endpoints interface {
	SigningSecrets(uid string) (secrets []string, ok bool)
	Gone(uid string)
}

// DefaultRetry is the delay schedule between attempts (8 attempts in all).
func DefaultRetry() []time.Duration {
	return []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute,
		2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
}

const (
	defaultWorkers        = 16
	defaultPerDestination = 4
	defaultTimeout        = 15 * time.Second
	defaultDailyLimit     = 10000
	defaultKeepLogs       = 30 * 24 * time.Hour
	defaultUserAgent      = "sidehook/dev"
	// defaultGCInterval is how often a store that keeps house (store.Maintained) does it.
	defaultGCInterval = 5 * time.Minute
)

// Effective returns cfg as the queue applies it, every unset field filled
// with its default, so that two configs can be compared by what they do
// rather than by how they were written (`workers 16` and no workers line are
// the same engine).
func (cfg Config) Effective() Config { return cfg.withDefaults() }

// withDefaults returns a copy of cfg with every unset field filled in, so
// the rest of the package never has to ask whether a value was given.
func (cfg Config) withDefaults() Config {
	if cfg.Workers <= 0 {
		cfg.Workers = defaultWorkers
	}
	if cfg.PerDestination <= 0 {
		cfg.PerDestination = defaultPerDestination
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.Retry == nil {
		cfg.Retry = DefaultRetry()
	} else {
		cfg.Retry = append([]time.Duration(nil), cfg.Retry...)
	}
	if !cfg.DailyLimitSet {
		cfg.DailyLimit = defaultDailyLimit
	}
	if cfg.DailyLimit < 0 {
		cfg.DailyLimit = 0
	}
	if cfg.KeepLogs <= 0 {
		cfg.KeepLogs = defaultKeepLogs
	}
	if cfg.GCInterval <= 0 {
		cfg.GCInterval = defaultGCInterval
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = defaultUserAgent
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.AllowDestination = append([]netip.Prefix(nil), cfg.AllowDestination...)
	return cfg
}
