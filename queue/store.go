package queue

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// recordEntries are the entries that store rec: the record and its two log
// index keys, all with the same TTL so an expired log leaves no index behind.
// ttl 0 means no expiry, used while a job is pending: a queued event must
// never expire before it is delivered.
func recordEntries(rec *record, ttl time.Duration) []*badger.Entry {
	entries := []*badger.Entry{
		badger.NewEntry(recordKey(rec.ID), rec.encode()),
		badger.NewEntry(indexAllKey(rec.Created, rec.ID), nil),
		badger.NewEntry(indexClientKey(rec.ClientID, rec.Created, rec.ID), nil),
	}
	if ttl > 0 {
		for _, e := range entries {
			e.WithTTL(ttl)
		}
	}
	return entries
}

// getRecord reads the record of id inside txn.
func getRecord(txn *badger.Txn, id string) (record, error) {
	item, err := txn.Get(recordKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return record{}, ErrNotFound
	}
	if err != nil {
		return record{}, fmt.Errorf("read record %s: %w", id, err)
	}
	var rec record
	err = item.Value(func(v []byte) error {
		var derr error
		rec, derr = decodeRecord(v)
		return derr
	})
	if err != nil {
		return record{}, fmt.Errorf("decode record %s: %w", id, err)
	}
	return rec, nil
}

// updateRecord runs change on the current record of id in a transaction and
// retries on a conflict: a worker finishing an attempt and an operator's
// Retry may touch the same record at once, and Badger's conflict detection
// makes the later one start over instead of losing the first one's update.
func (q *Queue) updateRecord(id string, change func(txn *badger.Txn, rec *record) error) error {
	const maxConflicts = 16
	var err error
	for range maxConflicts {
		err = q.db.Update(func(txn *badger.Txn) error {
			rec, err := getRecord(txn, id)
			if err != nil {
				return err
			}
			return change(txn, &rec)
		})
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("update record %s: %w", id, err)
}

// setRecordIn writes rec with ttl inside txn.
func setRecordIn(txn *badger.Txn, rec *record, ttl time.Duration) error {
	for _, e := range recordEntries(rec, ttl) {
		if err := txn.SetEntry(e); err != nil {
			return fmt.Errorf("write record %s: %w", rec.ID, err)
		}
	}
	return nil
}

// countJobs counts the job keys, for Stats' depth after a restart.
func (q *Queue) countJobs() (uint64, error) {
	var n uint64
	err := q.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefixJob
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}
