package badgerstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/sidehook/sidehook/queue/store"
)

// expiresAt is Badger's expiry (unix seconds) for ttl from now; 0 (never) for ttl 0. The state and
// index entries of one record get the same value, so they expire together.
func expiresAt(ttl time.Duration) uint64 {
	if ttl <= 0 {
		return 0
	}
	return uint64(time.Now().Add(ttl).Unix())
}

// stateEntry is r/<id>: rec without its body, expiring at exp (0: never; a pending state must
// never expire before its job is delivered).
func stateEntry(rec *record, exp uint64) *badger.Entry {
	e := badger.NewEntry(recordKey(rec.ID), rec.encode())
	e.ExpiresAt = exp
	return e
}

// bodyEntry is b/<id>, which never expires: a body is written once, at Enqueue, and lives in
// Badger's value log. Giving it its record's TTL would mean writing it again at the final outcome,
// when that TTL is known, and so every delivered body twice into the value log. Instead
// sweepBodies deletes the bodies whose record has expired.
func bodyEntry(id string, body []byte) *badger.Entry {
	if body == nil {
		body = []byte{} // an empty body is still a body: b/<id> exists for every record
	}
	return badger.NewEntry(bodyKey(id), body)
}

// indexEntries are rec's two log index keys, expiring at rec.IndexExpires.
func indexEntries(rec *record) []*badger.Entry {
	entries := []*badger.Entry{
		badger.NewEntry(indexAllKey(rec.Created, rec.ID), nil),
		badger.NewEntry(indexClientKey(rec.ClientID, rec.Created, rec.ID), nil),
	}
	for _, e := range entries {
		e.ExpiresAt = uint64(rec.IndexExpires)
	}
	return entries
}

// recordEntries are all the entries that store a new rec: its body, its state expiring at
// stateExp and its two log index keys. The body comes first: should a batch be split over several
// commits (batchWriter), a state is never committed without its body.
func recordEntries(rec *record, stateExp uint64) []*badger.Entry {
	return append([]*badger.Entry{bodyEntry(rec.ID, rec.Body), stateEntry(rec, stateExp)}, indexEntries(rec)...)
}

// setState writes rec's state expiring at exp inside txn, and its index keys too when reindex:
// the write of every attempt's outcome and of a Retry. The body is never written again.
func setState(txn *badger.Txn, rec *record, exp uint64, reindex bool) error {
	entries := []*badger.Entry{stateEntry(rec, exp)}
	if reindex {
		entries = append(entries, indexEntries(rec)...)
	}
	for _, e := range entries {
		if err := txn.SetEntry(e); err != nil {
			return fmt.Errorf("write record %s: %w", rec.ID, err)
		}
	}
	return nil
}

// errNoBody: a state without its body. Enqueue writes both in one commit (the body first when a
// batch is split), so this is damage, not a state the store ever leaves.
var errNoBody = errors.New("record has no body")

// getState reads the record of id inside txn without its body.
func getState(txn *badger.Txn, id string) (record, error) {
	item, err := txn.Get(recordKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return record{}, store.ErrNotFound
	}
	if err != nil {
		return record{}, fmt.Errorf("read record %s: %w", id, err)
	}
	return stateOf(item, id)
}

// stateOf decodes the state item of id (getState, passReader.state).
func stateOf(item *badger.Item, id string) (record, error) {
	var rec record
	err := item.Value(func(v []byte) error {
		var derr error
		rec, derr = decodeRecord(v)
		return derr
	})
	if err != nil {
		return record{}, fmt.Errorf("decode record %s: %w", id, err)
	}
	return rec, nil
}

// getBody reads the body of id inside txn.
func getBody(txn *badger.Txn, id string) ([]byte, error) {
	item, err := txn.Get(bodyKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("read body %s: %w", id, errNoBody)
	}
	if err != nil {
		return nil, fmt.Errorf("read body %s: %w", id, err)
	}
	body, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("read body %s: %w", id, err)
	}
	return body, nil
}

// getRecord reads the whole record of id, body included, inside txn.
func getRecord(txn *badger.Txn, id string) (record, error) {
	rec, err := getState(txn, id)
	if err != nil {
		return rec, err
	}
	rec.Body, err = getBody(txn, id)
	return rec, err
}

// keyIterator iterates the keys under prefix without reading values ahead: every scan of the store
// walks keys (jobs, log index, bodies) and reads a value, if at all, for a few of them, so
// prefetching would read ahead PrefetchSize values per seek for nothing.
func keyIterator(txn *badger.Txn, prefix []byte) *badger.Iterator {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = prefix
	return txn.NewIterator(opts)
}

// countJobs counts the job keys: the depth Jobs reports after a restart.
func countJobs(db *badger.DB) (int64, error) {
	var n int64
	err := db.View(func(txn *badger.Txn) error {
		it := keyIterator(txn, prefixJob)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}
