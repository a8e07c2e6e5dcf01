package jsstore

import (
	"context"
	"errors"
	"fmt"
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
	open := func(kind string, ttl time.Duration) (jetstream.KeyValue, jetstream.Stream) {
		if err != nil {
			return nil, nil
		}
		name := bucketName(prefix, kind)
		var stream jetstream.Stream
		if stream, err = openStream(ctx, js, name, replicas, ttl); err != nil {
			return nil, nil
		}
		var kv jetstream.KeyValue
		if kv, err = js.KeyValue(ctx, name); err != nil {
			err = fmt.Errorf("jsstore: binding bucket %s: %w", name, err)
		}
		return kv, stream
	}
	b.events, _ = open("events", 0)
	b.logs, b.logsStream = open("logs", 0)
	b.jobs, b.jobsStream = open("jobs", 0)
	b.limits, _ = open("limits", limitsTTL)
	return b, err
}

// openStream binds to a bucket's stream, or makes it: a key-value stream as nats.go would make it, with two
// differences. Reads go to the stream's leader (AllowDirect off): a direct get may be answered by a follower
// that has not applied the latest write yet, and the store must read its own writes (a job just released is
// claimable at once). And message deletes are allowed: a final outcome deletes the job's one message by
// sequence, which succeeds only while that sequence is the job's current revision (the claim still held)
// and, unlike a KV delete marker, leaves nothing behind, so the jobs stream's message count is the number of
// jobs.
func openStream(ctx context.Context, js jetstream.JetStream, bucket string, replicas int, ttl time.Duration) (jetstream.Stream, error) {
	name := "KV_" + bucket
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:              name,
			Subjects:          []string{"$KV." + bucket + ".>"},
			MaxMsgsPerSubject: 1,
			MaxAge:            ttl,
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

// lagRecheck is how long readAll waits for a lagging consumer before it asks the leader again how far to read.
const lagRecheck = 20 * time.Millisecond

// readAll returns the current entries of bucket's keys matching filter, every write acknowledged before the
// call included. The listing is an ordered consumer (nats.go's KV watch), which JetStream may place on a
// follower that lags the leader by a few writes; so readAll first asks stream's leader for the sequence of
// the last message matching filter, and reads on past the consumer's initial values until it has seen that
// sequence. If that message is deleted meanwhile (a final outcome), the leader is asked again.
func readAll(ctx context.Context, bucket jetstream.KeyValue, stream jetstream.Stream, filter string) ([]jetstream.KeyValueEntry, error) {
	target, err := lastSequence(ctx, stream, subject(bucket, filter))
	if err != nil {
		return nil, err
	}
	w, err := bucket.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	latest := map[string]jetstream.KeyValueEntry{}
	var seen uint64
	initial := true
	recheck := time.NewTimer(lagRecheck)
	defer recheck.Stop()
	for initial || seen < target {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("jsstore: reading %s: the watch ended early", bucket.Bucket())
			}
			if e == nil {
				initial = false
				continue
			}
			latest[e.Key()] = e
			seen = max(seen, e.Revision())
		case <-recheck.C:
			if !initial {
				if target, err = lastSequence(ctx, stream, subject(bucket, filter)); err != nil {
					return nil, err
				}
			}
			recheck.Reset(lagRecheck)
		case <-ctx.Done():
			return nil, fmt.Errorf("jsstore: reading %s: %w", bucket.Bucket(), ctx.Err())
		}
	}
	entries := make([]jetstream.KeyValueEntry, 0, len(latest))
	for _, e := range latest {
		entries = append(entries, e)
	}
	return entries, nil
}

// lastSequence asks stream's leader for the sequence of its last message on subjects (0: none).
func lastSequence(ctx context.Context, stream jetstream.Stream, subjects string) (uint64, error) {
	m, err := stream.GetLastMsgForSubject(ctx, subjects)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("jsstore: last message of %s: %w", subjects, err)
	}
	return m.Sequence, nil
}
