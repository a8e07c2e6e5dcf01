package natskv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// errClosed is returned by a lock taken while the storage was being closed.
var errClosed = errors.New("natskv: storage closed")

// markerTTL is how long a deletion's marker stays in the bucket: long enough for every live watcher to
// receive it, short enough that deleted keys do not pile up as markers.
const markerTTL = time.Minute

// Storage is a certmagic.Storage over one JetStream KV bucket. Safe for concurrent use.
type Storage struct {
	cfg    Config
	logger *zap.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	stream jetstream.Stream // the bucket's, whose leader answers listings
	// subjectPrefix is what the bucket's keys are published under: "$KV.<bucket>.".
	subjectPrefix string
	owner         string // written in this storage's locks, to tell an operator who holds one

	// ctx ends at Close: lock renewals and watches stop with it; wg waits for them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	reconnected broadcast

	mu     sync.Mutex
	closed bool                 // set by Close: nothing new starts (no lock held, no watch)
	locks  map[string]*heldLock // by lock name
}

var _ certmagic.Storage = (*Storage)(nil)

// Open connects to NATS and binds to the bucket, creating it when it does not exist yet.
func Open(cfg Config) (*Storage, error) {
	return open(cfg)
}

// open is Open with extra client options after the configuration's, for tests that need one (a client
// that ignores the cluster's other nodes).
func open(cfg Config, extra ...nats.Option) (*Storage, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Storage{cfg: cfg, logger: cfg.Logger, owner: newOwnerID(), locks: make(map[string]*heldLock)}
	handlers := []nats.Option{
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			s.logger.Warn("NATS connection lost; keeping what was read, reconnecting", zap.Error(err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			s.logger.Info("NATS connection back", zap.String("server", nc.ConnectedUrlRedacted()))
			s.reconnected.fire()
		}),
	}
	nc, err := cfg.Connect("sidehook storage "+cfg.Prefix, append(handlers, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("natskv: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natskv: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.RequestTimeout)
	defer cancel()
	kv, stream, err := openBucket(ctx, js, cfg.Bucket(), cfg.Replicas)
	if err != nil {
		nc.Close()
		return nil, err
	}
	s.nc, s.js, s.kv, s.stream, s.subjectPrefix = nc, js, kv, stream, "$KV."+cfg.Bucket()+"."
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// openBucket binds to the bucket, creating its stream first when it does not exist: a KV stream as nats.go
// makes one, but with direct gets off (reads from the leader, see the package doc) and message TTLs allowed
// (for locks). An existing bucket is bound as it is: its configuration belongs to whoever created it.
func openBucket(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.KeyValue, jetstream.Stream, error) {
	name := "KV_" + bucket
	stream, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		stream, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:                   name,
			Subjects:               []string{"$KV." + bucket + ".>"},
			MaxMsgsPerSubject:      1,
			MaxBytes:               -1,
			MaxMsgSize:             -1,
			MaxMsgs:                -1,
			MaxConsumers:           -1,
			Storage:                jetstream.FileStorage,
			Replicas:               replicas,
			AllowRollup:            true,
			DenyDelete:             true,
			Discard:                jetstream.DiscardNew,
			Duplicates:             2 * time.Minute,
			AllowMsgTTL:            true,
			SubjectDeleteMarkerTTL: markerTTL,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another instance created it meanwhile
			stream, err = js.Stream(ctx, name)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("natskv: stream %s: %w", name, err)
	}
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, nil, fmt.Errorf("natskv: binding bucket %s: %w", bucket, err)
	}
	return kv, stream, nil
}

func newOwnerID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Close releases the locks still held, stops renewals and watches, and closes the connection. Closing again
// does nothing.
func (s *Storage) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	held := s.locks
	s.locks = nil
	s.mu.Unlock()
	var errs []error
	for name, l := range held {
		if err := s.release(name, l); err != nil {
			errs = append(errs, err)
		}
	}
	s.cancel()
	s.wg.Wait()
	s.nc.Close()
	return errors.Join(errs...)
}

// bound limits one request to the request timeout, within ctx: a request sent to a stream leader that just
// died is never answered, and must fail in seconds (to be retried, or reported) rather than hold the
// caller until its own, possibly long, deadline.
func (s *Storage) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.RequestTimeout)
}

// notExist wraps fs.ErrNotExist, which certmagic and its callers test for, with the key.
func notExist(key string) error {
	return fmt.Errorf("natskv: %s: %w", key, fs.ErrNotExist)
}

// Store writes value at key.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	k, err := kvKey(dataRoot, key)
	if err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if _, err := s.kv.Put(ctx, k, value); err != nil {
		return fmt.Errorf("natskv: store %s: %w", key, err)
	}
	return nil
}

// Load reads the value at key; fs.ErrNotExist when there is none.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	e, err := s.get(ctx, key)
	if err != nil {
		return nil, err
	}
	return e.Value(), nil
}

func (s *Storage) get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	k, err := kvKey(dataRoot, key)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	e, err := s.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, notExist(key)
	}
	if err != nil {
		return nil, fmt.Errorf("natskv: load %s: %w", key, err)
	}
	return e, nil
}

// Delete removes key and, as FileStorage does for a directory, every key under it. A key that does not
// exist is not an error.
func (s *Storage) Delete(ctx context.Context, key string) error {
	self, err := kvKey(dataRoot, key)
	if err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	under, err := s.kvKeys(ctx, filter(key))
	if err != nil {
		return fmt.Errorf("natskv: delete %s: %w", key, err)
	}
	for _, k := range append(under, self) {
		// A purge, not a delete, so that its marker expires (markerTTL) instead of staying for good.
		if err := s.kv.Purge(ctx, k, jetstream.PurgeTTL(markerTTL)); err != nil {
			return fmt.Errorf("natskv: delete %s: %w", key, err)
		}
	}
	return nil
}

// Exists reports whether key holds a value or has keys under it (a directory).
func (s *Storage) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// Stat describes key: a value (terminal), or a directory, which has keys under it and no size or time.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	e, err := s.get(ctx, key)
	if err == nil {
		return certmagic.KeyInfo{Key: key, Modified: e.Created(), Size: int64(len(e.Value())), IsTerminal: true}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return certmagic.KeyInfo{}, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	under, err := s.kvKeys(ctx, filter(key))
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("natskv: stat %s: %w", key, err)
	}
	if len(under) == 0 {
		return certmagic.KeyInfo{}, notExist(key)
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}

// List returns the keys under prefix in FileStorage's order (depth first, names in order): with recursive,
// every key and directory below it; without, the keys and directories directly in it. A prefix that holds a
// value lists nothing; one that does not exist is fs.ErrNotExist.
func (s *Storage) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	under, err := s.kvKeys(ctx, filter(prefix))
	if err != nil {
		return nil, fmt.Errorf("natskv: list %s: %w", prefix, err)
	}
	if len(under) == 0 {
		if len(segments(prefix)) == 0 {
			return nil, nil // the root: the bucket exists, empty
		}
		if _, err := s.get(ctx, prefix); err != nil {
			return nil, err
		}
		return nil, nil
	}
	depth := len(segments(prefix))
	seen := make(map[string]bool)
	var rels [][]string
	for _, k := range under {
		ck, err := certKey(k)
		if err != nil {
			s.logger.Warn("skipping a key this storage did not write", zap.String("key", k), zap.Error(err))
			continue
		}
		rel := segments(ck)[depth:]
		upTo := 1
		if recursive {
			upTo = len(rel)
		}
		for i := 1; i <= upTo; i++ { // a key's directories are listed as FileStorage lists them
			joined := path.Join(rel[:i]...)
			if !seen[joined] {
				seen[joined] = true
				rels = append(rels, rel[:i])
			}
		}
	}
	slices.SortFunc(rels, slices.Compare[[]string])
	keys := make([]string, len(rels))
	for i, rel := range rels {
		keys[i] = path.Join(append([]string{prefix}, rel...)...)
	}
	return keys, nil
}

// kvKeys returns the bucket keys matching a subject filter that hold a value. The subjects come from the
// stream's leader (a stream info request), not from a consumer: a consumer may run on a replica that is
// behind, such as a node just restarted, and list keys as they were. The leader also counts the subjects of
// deleted keys (their markers are messages), so each is read, from the leader too, and those without a
// value left out.
func (s *Storage) kvKeys(ctx context.Context, subjects string) ([]string, error) {
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(s.subjectPrefix+subjects))
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(info.State.Subjects))
	for subject := range info.State.Subjects {
		key := strings.TrimPrefix(subject, s.subjectPrefix)
		_, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// String names the storage in Caddy's logs.
func (s *Storage) String() string { return "natskv:" + s.cfg.Bucket() }
