package queue

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// expiresAt is Badger's expiry (unix seconds) for ttl from now; 0 (never)
// for ttl 0. The state and index entries of one record get the same value,
// so they expire together.
func expiresAt(ttl time.Duration) uint64 {
	if ttl <= 0 {
		return 0
	}
	return uint64(time.Now().Add(ttl).Unix())
}

// stateEntry is r/<id>: rec without its body.
func stateEntry(rec *record, exp uint64) *badger.Entry {
	state := *rec
	state.Body = nil
	e := badger.NewEntry(recordKey(rec.ID), state.encode())
	e.ExpiresAt = exp
	return e
}

// bodyEntry is b/<id>, which never expires: a body is written once, at
// Enqueue, and lives in Badger's value log. Giving it its record's TTL would
// mean writing it again at the final outcome, when that TTL is known, and so
// every delivered body twice into the value log. Instead sweepBodies deletes
// the bodies whose record has expired.
func bodyEntry(rec *record) *badger.Entry {
	return badger.NewEntry(bodyKey(rec.ID), rec.Body)
}

// indexEntries are rec's two log index keys, expiring at exp.
func indexEntries(rec *record, exp uint64) []*badger.Entry {
	entries := []*badger.Entry{
		badger.NewEntry(indexAllKey(rec.Created, rec.ID), nil),
		badger.NewEntry(indexClientKey(rec.ClientID, rec.Created, rec.ID), nil),
	}
	for _, e := range entries {
		e.ExpiresAt = exp
	}
	return entries
}

// recordEntries are all the entries that store a new rec: its body, its
// state with ttl (0: none, used while a job is pending; a queued event must
// never expire before it is delivered) and its two log index keys, which
// expire at rec.IndexExpires. The body comes first: should a batch be split
// over several commits (batchWriter), a state is never committed without its
// body.
func recordEntries(rec *record, ttl time.Duration) []*badger.Entry {
	return append([]*badger.Entry{bodyEntry(rec), stateEntry(rec, expiresAt(ttl))}, indexEntries(rec, uint64(rec.IndexExpires))...)
}

// Index keys and the final outcome. Badger's TTL is fixed when an entry is
// written, and a record's log expires keep_logs after its final outcome,
// which is not known when it is queued. Rewriting both index keys at the
// final outcome to give them that TTL was two of the four entries every
// delivery wrote. Instead Enqueue gives them an expiry that lasts the
// record's whole pending life as the retry schedule sees it (keep_logs plus
// pendingSpan), and the final outcome rewrites them only when that expiry
// is before the state's or more than a quarter of keep_logs after it: with
// the default 30 days a delivered log's index keys outlive it by at most
// pendingSpan (a day and a half), and are not written again. An index key
// whose state is gone is skipped by Logs. The one case this gives up: a job
// held back for longer than keep_logs plus pendingSpan without any attempt
// (its destination's breaker open all that time) drops out of Logs until its
// next outcome writes its index keys again; it is still queued and delivered.

// pendingSpan bounds how long a record stays pending on its retry schedule:
// the delays with their jitter, and an hour to spare.
func pendingSpan(retry []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range retry {
		sum += d
	}
	return sum*5/4 + time.Hour
}

// pendingIndexExpiry is the index expiry of a record pending with its next
// attempt due at dueNs.
func pendingIndexExpiry(cfg *Config, dueNs int64) int64 {
	return time.Unix(0, dueNs).Add(cfg.KeepLogs + pendingSpan(cfg.Retry)).Unix()
}

// extendPendingIndex makes sure rec's index keys outlive a pending record
// due at dueNs by keep_logs (a Retry-After, an operator's Retry, a longer
// keep_logs can take it past what Enqueue gave them) and reports whether
// they must be written again. Index keys without expiry (an earlier
// version's pending record) never need it.
func extendPendingIndex(cfg *Config, rec *record, dueNs int64) bool {
	if rec.IndexExpires == 0 || rec.IndexExpires >= time.Unix(0, dueNs).Add(cfg.KeepLogs).Unix() {
		return false
	}
	rec.IndexExpires = pendingIndexExpiry(cfg, dueNs)
	return true
}

// finalIndex sets rec's index expiry for a final state expiring at
// stateExp and reports whether the index keys must be written again: when
// they would expire before the state, never, or more than a quarter of
// keep_logs after it.
func finalIndex(rec *record, stateExp uint64, keep time.Duration) bool {
	exp, slack := int64(stateExp), int64(keep/4/time.Second)
	if rec.IndexExpires != 0 && rec.IndexExpires >= exp && rec.IndexExpires <= exp+slack {
		return false
	}
	rec.IndexExpires = exp
	return true
}

// getState reads the record of id inside txn without its body (loadBody
// adds it). A record written by an earlier version carries its body inline,
// and then Body is already set.
func getState(txn *badger.Txn, id string) (record, error) {
	item, err := txn.Get(recordKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return record{}, ErrNotFound
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
	rec.bodyInState = rec.Body != nil
	return rec, nil
}

// loadBody reads rec's body inside txn unless rec already holds it.
func loadBody(txn *badger.Txn, rec *record) error {
	if rec.Body != nil {
		return nil
	}
	item, err := txn.Get(bodyKey(rec.ID))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil // an empty body of an earlier version's record
	}
	if err != nil {
		return fmt.Errorf("read body %s: %w", rec.ID, err)
	}
	rec.Body, err = item.ValueCopy(nil)
	if err != nil {
		return fmt.Errorf("read body %s: %w", rec.ID, err)
	}
	return nil
}

// getRecord reads the whole record of id, body included, inside txn.
func getRecord(txn *badger.Txn, id string) (record, error) {
	rec, err := getState(txn, id)
	if err != nil {
		return rec, err
	}
	return rec, loadBody(txn, &rec)
}

// updateRecord runs change on the current state of id (getState: no body
// unless loaded by change) in a transaction and retries on a conflict: a
// worker finishing an attempt and an operator's Retry may touch the same
// record at once, and Badger's conflict detection makes the later one start
// over instead of losing the first one's update.
func (q *Queue) updateRecord(id string, change func(txn *badger.Txn, rec *record) error) error {
	const maxConflicts = 16
	var err error
	for range maxConflicts {
		err = q.db.Update(func(txn *badger.Txn) error {
			rec, err := getState(txn, id)
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

// setStateIn writes rec's state expiring at exp (0: never) inside txn, and
// its index keys too when reindex (expiring at rec.IndexExpires): the write
// of every attempt's outcome and of a Retry. The body is written only when it
// came from the state (moveInlineBodyIn).
func setStateIn(txn *badger.Txn, rec *record, exp uint64, reindex bool) error {
	if err := moveInlineBodyIn(txn, rec); err != nil {
		return err
	}
	entries := []*badger.Entry{stateEntry(rec, exp)}
	if reindex {
		entries = append(entries, indexEntries(rec, uint64(rec.IndexExpires))...)
	}
	for _, e := range entries {
		if err := txn.SetEntry(e); err != nil {
			return fmt.Errorf("write record %s: %w", rec.ID, err)
		}
	}
	return nil
}

// moveInlineBodyIn writes rec's body to its own key when it came from the
// state (bodyInState): a record of an earlier version stored it inline, and
// its next state is written without it. A body read from b/<id> is never
// written again.
func moveInlineBodyIn(txn *badger.Txn, rec *record) error {
	if !rec.bodyInState {
		return nil
	}
	if err := txn.SetEntry(bodyEntry(rec)); err != nil {
		return fmt.Errorf("write body %s: %w", rec.ID, err)
	}
	return nil
}

// keepBodyIn takes the expiry off the body of id inside txn, if it has one:
// versions before the value-log layout gave a body its record's TTL at the
// final outcome, and a Retry that reopens such a record must not leave its
// body to expire while the job is pending.
func keepBodyIn(txn *badger.Txn, id string) error {
	item, err := txn.Get(bodyKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read body %s: %w", id, err)
	}
	if item.ExpiresAt() == 0 {
		return nil
	}
	body, err := item.ValueCopy(nil)
	if err != nil {
		return fmt.Errorf("read body %s: %w", id, err)
	}
	return txn.SetEntry(badger.NewEntry(bodyKey(id), body))
}

// keyIterator iterates the keys under prefix without reading values ahead:
// every scan of the queue walks keys (jobs, log index, bodies) and reads a
// value, if at all, for a few of them, so prefetching would read ahead
// PrefetchSize values per seek for nothing.
func keyIterator(txn *badger.Txn, prefix []byte) *badger.Iterator {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = prefix
	return txn.NewIterator(opts)
}

// countJobs counts the job keys, for Stats' depth after a restart.
func (q *Queue) countJobs() (uint64, error) {
	var n uint64
	err := q.db.View(func(txn *badger.Txn) error {
		it := keyIterator(txn, prefixJob)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}
