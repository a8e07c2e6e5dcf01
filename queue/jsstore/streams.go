package jsstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// limitsTTL is how long a daily counter is kept after its last write: past its UTC day plus a margin for
// clocks that disagree, it is never read again.
const limitsTTL = 48 * time.Hour

// buckets are the store's four key-value buckets, named after the prefix (see the package doc).
type buckets struct {
	events jetstream.KeyValue // id -> the event, body included; written once
	logs   jetstream.KeyValue // client.id -> delivery state
	jobs   jetstream.KeyValue // dest.id -> due time, attempts and claim
	limits jetstream.KeyValue // day.client.user -> events queued that day
	// The streams of the buckets that are listed (readAll asks their leader how far to read), and of jobs
	// for two more reasons: a final outcome deletes the job's message by its sequence (the claim's
	// revision), and its message count is Jobs.
	jobsStream, logsStream jetstream.Stream
}

func bucketName(prefix, kind string) string { return prefix + "_" + kind }

// openBuckets binds to the buckets, creating those that do not exist yet. An existing bucket is bound as it
// is, not updated: a process opening the queue needs only the streams' leaders, not the cluster's meta leader
// (which a node loss may be electing), and the configuration belongs to whoever created it (changing
// Replicas later is an operator's stream edit).
func openBuckets(ctx context.Context, js jetstream.JetStream, prefix string, replicas int) (buckets, error) {
	var b buckets
	var err error
	open := func(kind string, maxAge time.Duration, msgTTL bool) (jetstream.KeyValue, jetstream.Stream) {
		if err != nil {
			return nil, nil
		}
		name := bucketName(prefix, kind)
		var stream jetstream.Stream
		if stream, err = openStream(ctx, js, name, replicas, maxAge, msgTTL); err != nil {
			return nil, nil
		}
		var kv jetstream.KeyValue
		if kv, err = js.KeyValue(ctx, name); err != nil {
			err = fmt.Errorf("jsstore: binding bucket %s: %w", name, err)
		}
		return kv, stream
	}
	b.events, _ = open("events", 0, true)
	b.logs, b.logsStream = open("logs", 0, true)
	b.jobs, b.jobsStream = open("jobs", 0, false)
	b.limits, _ = open("limits", limitsTTL, false)
	return b, err
}

// openStream binds to a bucket's stream, or makes it: a key-value stream as nats.go would make it, entries
// older than maxAge (0: none) dropped, per-message TTLs allowed if msgTTL (expiry.go). And with two
// differences. Reads go to the stream's leader (AllowDirect off): a direct get may be answered by a follower
// that has not applied the latest write yet, and the store must read its own writes (a job just released is
// claimable at once). And message deletes are allowed: a final outcome deletes the job's one message by
// sequence, which succeeds only while that sequence is the job's current revision (the claim still held)
// and, unlike a KV delete marker, leaves nothing behind, so the jobs stream's message count is the number of
// jobs.
func openStream(ctx context.Context, js jetstream.JetStream, bucket string, replicas int, maxAge time.Duration, msgTTL bool) (jetstream.Stream, error) {
	name := "KV_" + bucket
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:              name,
			Subjects:          []string{"$KV." + bucket + ".>"},
			MaxMsgsPerSubject: 1,
			MaxAge:            maxAge,
			AllowMsgTTL:       msgTTL,
			MaxBytes:          -1,
			MaxMsgSize:        -1,
			MaxMsgs:           -1,
			MaxConsumers:      -1,
			Storage:           jetstream.FileStorage,
			Replicas:          replicas,
			AllowRollup:       true,
			Discard:           jetstream.DiscardNew,
			Duplicates:        2 * time.Minute,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another process created it meanwhile
			s, err = js.Stream(ctx, name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jsstore: stream %s: %w", name, err)
	}
	return s, nil
}

// subject is the subject a key of bucket is published on, for writes that need headers the KV API does not
// offer (Nats-Msg-Id).
func subject(bucket jetstream.KeyValue, key string) string {
	return "$KV." + bucket.Bucket() + "." + key
}

// keyValue is a key's current value and revision, as readAll lists them.
type keyValue struct {
	key   string
	value []byte
	rev   uint64
}

// consumerWait bounds how long readAll waits for its consumer's next value before it reads the rest from the
// leader alone.
const consumerWait = time.Second

// readAll returns the current values of bucket's keys matching filter, every write acknowledged before the
// call included. The bulk is read by an ordered consumer (nats.go's KV watch), which JetStream may place on a
// follower that lags the leader by a few writes, or, for a while after a node's loss, on the lost node; so
// once the consumer has delivered the values it holds (or has been silent for consumerWait), readAll asks
// stream's leader for each next matching message after the last one seen, until the leader has none.
func readAll(ctx context.Context, bucket jetstream.KeyValue, stream jetstream.Stream, filter string) ([]keyValue, error) {
	w, err := bucket.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	latest := map[string]keyValue{}
	var seen uint64
	giveUp := time.NewTimer(consumerWait)
	defer giveUp.Stop()
	for initial := true; initial; {
		select {
		case e, ok := <-w.Updates():
			if !ok || e == nil {
				initial = false
				continue
			}
			latest[e.Key()] = keyValue{key: e.Key(), value: e.Value(), rev: e.Revision()}
			seen = max(seen, e.Revision())
			giveUp.Reset(consumerWait)
		case <-giveUp.C:
			initial = false // the leader is read from seen on: slower, as complete
		case <-ctx.Done():
			return nil, fmt.Errorf("jsstore: reading %s: %w", bucket.Bucket(), ctx.Err())
		}
	}
	prefix := subject(bucket, "")
	for { // bounded: each round reads a later message, and the leader has finitely many
		m, err := stream.GetMsg(ctx, seen+1, jetstream.WithGetMsgSubject(prefix+filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("jsstore: reading %s from its leader: %w", bucket.Bucket(), err)
		}
		key := strings.TrimPrefix(m.Subject, prefix)
		latest[key] = keyValue{key: key, value: m.Data, rev: m.Sequence}
		seen = m.Sequence
	}
	values := make([]keyValue, 0, len(latest))
	for _, v := range latest {
		values = append(values, v)
	}
	return values, nil
}
