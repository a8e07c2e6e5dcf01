package matcher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// Defaults of StoreConfig.
const (
	DefaultPrefix       = "sidehook"
	DefaultPollInterval = 5 * time.Second
)

var (
	// ErrNotFound: no subscription with that uid, or it belongs to another client (which must not
	// learn that it exists).
	ErrNotFound = errors.New("subscription not found")
	// ErrReadOnly: the subscription is static (from the Caddyfile) and cannot be changed through
	// the API.
	ErrReadOnly = errors.New("subscription is read-only")
	// ErrExists: Add was given a UID that is already taken.
	ErrExists = errors.New("subscription already exists")
)

// StoreConfig configures a Store.
type StoreConfig struct {
	// Storage is where dynamic subscriptions live, normally Caddy's ctx.Storage(), so that every
	// instance sharing it shares them.
	Storage certmagic.Storage
	// Prefix of every key, default "sidehook".
	Prefix string
	// Static subscriptions, from the Caddyfile: merged into every index, never written. Each needs
	// a valid pattern and secret; an empty UID is derived from the pattern, URL, client and user,
	// so it is the same on every instance and across restarts (Disable is remembered by UID).
	Static []*Subscription
	// PollInterval is how often the version marker is read, default 5s.
	PollInterval time.Duration
	// Changed, when set, makes the poller poll at once whenever it receives, besides on its timer: a
	// storage that can watch a key (cluster mode's KV bucket) signals it when VersionKey(Prefix) changes,
	// so other instances' changes are seen in milliseconds while the timer stays as a safety net. A closed
	// channel is no longer listened to.
	Changed <-chan struct{}
	// LoadLater, when the first load fails, starts the store with the static subscriptions alone and loads
	// the dynamic ones at the first poll that can, instead of failing NewStore. Cluster mode sets it: a
	// storage on NATS may be away when Caddy starts, and sidehook must not keep Caddy from serving for it.
	LoadLater bool
	// Logger, nil: zap.NewNop().
	Logger *zap.Logger
	// Now, nil: time.Now. Tests set it to control Created and secret grace periods.
	Now func() time.Time
}

// Store keeps dynamic subscriptions in Caddy storage, one object per subscription
// ("<prefix>/subscriptions/<uid>.json") plus a version marker ("<prefix>/subscriptions.version")
// rewritten with a random value on every change, merges the static ones (whose disabling is
// remembered under "<prefix>/static-disabled/<uid>"), and publishes an Index through an
// atomic pointer. A local change is published before the mutating call returns; other instances
// see it when their poller finds the marker changed. Polling reads only the marker, so an idle
// cluster costs one small read per instance per interval whatever the number of subscriptions.
type Store struct {
	storage      certmagic.Storage
	keys         storageKeys
	pollInterval time.Duration
	changed      <-chan struct{}
	logger       *zap.Logger
	now          func() time.Time
	static       map[string]*Subscription // by UID; never changed after NewStore

	index atomic.Pointer[Index]

	// mu serialises mutations and reloads: both read, change and republish the fields below.
	mu             sync.Mutex
	dynamic        map[string]*Subscription // by UID; values replaced, never modified
	staticDisabled map[string]bool          // UIDs of static subscriptions a receiver answered 410
	version        string                   // the marker value the published index reflects
	loaded         bool                     // a load succeeded: version and dynamic reflect the storage

	// lifecycle guards the poller's start and stop.
	lifecycle  sync.Mutex
	stopPoller context.CancelFunc
	pollerDone chan struct{}
}

// NewStore validates the static subscriptions and loads the dynamic ones once, synchronously, so
// the first Index is complete; a storage error is returned rather than starting with nothing.
func NewStore(cfg StoreConfig) (*Store, error) {
	if cfg.Storage == nil {
		return nil, errors.New("subscription store: no storage")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	static, err := prepareStatic(cfg.Static)
	if err != nil {
		return nil, fmt.Errorf("subscription store: %w", err)
	}
	s := &Store{
		storage:        cfg.Storage,
		keys:           storageKeys{prefix: cfg.Prefix},
		pollInterval:   cfg.PollInterval,
		changed:        cfg.Changed,
		logger:         cfg.Logger,
		now:            cfg.Now,
		static:         static,
		dynamic:        make(map[string]*Subscription),
		staticDisabled: make(map[string]bool),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(context.Background()); err != nil {
		if !cfg.LoadLater {
			return nil, fmt.Errorf("subscription store: initial load: %w", err)
		}
		s.logger.Warn("subscriptions could not be loaded; serving the static ones until the storage answers", zap.Error(err))
		s.publishLocked()
	}
	return s, nil
}

// prepareStatic validates static subscriptions and returns private copies marked Static, by UID.
func prepareStatic(subs []*Subscription) (map[string]*Subscription, error) {
	static := make(map[string]*Subscription, len(subs))
	for i, in := range subs {
		if in == nil {
			continue
		}
		sub := in.clone()
		sub.Static = true
		if err := ValidatePattern(sub.ServiceCall); err != nil {
			return nil, fmt.Errorf("static subscription %d (%s): %w", i+1, sub.WebhookURL, err)
		}
		if err := ValidateSecret(sub.Secret); err != nil {
			return nil, fmt.Errorf("static subscription %d (%s %s): %w", i+1, sub.ServiceCall, sub.WebhookURL, err)
		}
		if sub.UID == "" {
			sub.UID = StaticUID(sub.ServiceCall, sub.WebhookURL, sub.ClientID, sub.UserID)
		} else if !validUID(sub.UID) {
			return nil, fmt.Errorf("static subscription %d: uid %q: want lowercase letters, digits, - and _", i+1, sub.UID)
		}
		if _, dup := static[sub.UID]; dup {
			return nil, fmt.Errorf("static subscription %d (%s %s): duplicate (uid %s)", i+1, sub.ServiceCall, sub.WebhookURL, sub.UID)
		}
		static[sub.UID] = sub
	}
	return static, nil
}

// Index returns the current snapshot; never nil. Lock-free: it is one atomic load.
func (s *Store) Index() *Index {
	return s.index.Load()
}

// List returns the subscriptions of client, dynamic and static with that ClientID, oldest first.
// The subscriptions are shared and read-only.
func (s *Store) List(client string) []*Subscription {
	var out []*Subscription
	for _, sub := range s.Index().all {
		if sub.ClientID == client {
			out = append(out, sub)
		}
	}
	return out
}

// SigningSecrets returns the secrets a delivery for uid is signed with now; false when the
// subscription is gone or disabled, which tells the delivery side to drop the job.
func (s *Store) SigningSecrets(uid string) ([]string, bool) {
	sub, ok := s.Index().Get(uid)
	if !ok || sub.Disabled {
		return nil, false
	}
	return sub.SigningSecrets(s.now()), true
}

// Start starts the poller that picks up changes made by other instances. Calling it again while
// it runs does nothing.
func (s *Store) Start() {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	if s.stopPoller != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopPoller, s.pollerDone = cancel, make(chan struct{})
	go s.pollLoop(ctx, s.pollerDone)
}

// Stop stops the poller and waits for it; safe without Start and more than once.
func (s *Store) Stop() {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	if s.stopPoller == nil {
		return
	}
	s.stopPoller()
	<-s.pollerDone
	s.stopPoller, s.pollerDone = nil, nil
}

// publishLocked builds and publishes the index of the current state; s.mu must be held.
func (s *Store) publishLocked() {
	subs := make([]*Subscription, 0, len(s.dynamic)+len(s.static))
	for _, sub := range s.dynamic {
		subs = append(subs, sub)
	}
	for uid, sub := range s.static {
		if s.staticDisabled[uid] && !sub.Disabled {
			sub = sub.clone()
			sub.Disabled = true
		}
		subs = append(subs, sub)
	}
	s.index.Store(NewIndex(subs))
}
