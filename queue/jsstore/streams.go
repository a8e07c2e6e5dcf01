package jsstore

import (
	"context"
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
	// jobsStream is the jobs bucket's stream: a final outcome deletes the job's message by its sequence
	// (the claim's revision), and its message count is Jobs.
	jobsStream jetstream.Stream
}

func bucketName(prefix, kind string) string { return prefix + "_" + kind }

// openBuckets creates the buckets, or binds to them when another process made them already (creating one
// with the same configuration is idempotent in JetStream).
func openBuckets(ctx context.Context, js jetstream.JetStream, prefix string, replicas int) (buckets, error) {
	var b buckets
	var err error
	kv := func(kind string, ttl time.Duration) jetstream.KeyValue {
		if err != nil {
			return nil
		}
		var bucket jetstream.KeyValue
		bucket, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucketName(prefix, kind),
			Replicas: replicas, Storage: jetstream.FileStorage, TTL: ttl})
		if err != nil {
			err = fmt.Errorf("jsstore: bucket %s: %w", bucketName(prefix, kind), err)
		}
		return bucket
	}
	b.events = kv("events", 0)
	b.logs = kv("logs", 0)
	b.limits = kv("limits", limitsTTL)
	if err != nil {
		return b, err
	}
	if b.jobsStream, err = createJobsStream(ctx, js, bucketName(prefix, "jobs"), replicas); err != nil {
		return b, err
	}
	if b.jobs, err = js.KeyValue(ctx, bucketName(prefix, "jobs")); err != nil {
		return b, fmt.Errorf("jsstore: binding the jobs bucket: %w", err)
	}
	return b, nil
}

// createJobsStream makes the jobs bucket's stream by hand: a key-value stream as nats.go would make it, but
// with message deletes allowed. A final outcome deletes the job's one message by sequence, which succeeds
// only while that sequence is the job's current revision (the claim still held) and, unlike a KV delete
// marker, leaves nothing behind, so the stream's message count is exactly the number of jobs.
func createJobsStream(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              "KV_" + bucket,
		Subjects:          []string{"$KV." + bucket + ".>"},
		MaxMsgsPerSubject: 1,
		MaxBytes:          -1,
		MaxMsgSize:        -1,
		MaxMsgs:           -1,
		MaxConsumers:      -1,
		Storage:           jetstream.FileStorage,
		Replicas:          replicas,
		AllowRollup:       true,
		AllowDirect:       true,
		Discard:           jetstream.DiscardNew,
		Duplicates:        2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("jsstore: stream of bucket %s: %w", bucket, err)
	}
	return s, nil
}

// subject is the subject a key of bucket is published on, for writes that need headers the KV API does not
// offer (Nats-Msg-Id).
func subject(bucket jetstream.KeyValue, key string) string {
	return "$KV." + bucket.Bucket() + "." + key
}

// readAll returns the current entries of bucket's keys matching filter: an ordered consumer delivers the last
// value of every matching key, and nats.go marks the end of the values present with a nil entry.
func readAll(ctx context.Context, bucket jetstream.KeyValue, filter string) ([]jetstream.KeyValueEntry, error) {
	w, err := bucket.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	var entries []jetstream.KeyValueEntry
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("jsstore: reading %s: the watch ended early", bucket.Bucket())
			}
			if e == nil {
				return entries, nil
			}
			entries = append(entries, e)
		case <-ctx.Done():
			return nil, fmt.Errorf("jsstore: reading %s: %w", bucket.Bucket(), ctx.Err())
		}
	}
}
