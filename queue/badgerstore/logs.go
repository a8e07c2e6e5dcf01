package badgerstore

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/sidehook/sidehook/queue/store"
)

// maxLogScan bounds a status-filtered query over a long history.
const maxLogScan = 100_000

// Logs returns log items newest first: a prefix scan of the time-inverted index of the client
// (or of all clients). Index keys whose state has expired are skipped.
func (s *Store) Logs(q store.LogQuery) ([]store.LogItem, error) {
	if !s.enter() {
		return nil, store.ErrClosed
	}
	defer s.leave()
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLogLimit
	}
	prefix := prefixIndexAll
	if !q.AnyClient {
		prefix = indexClientPrefix(q.ClientID)
	}
	var items []store.LogItem
	err := s.db.View(func(txn *badger.Txn) error {
		it := keyIterator(txn, prefix)
		defer it.Close()
		scanned := 0
		for it.Rewind(); it.Valid() && len(items) < limit && scanned < maxLogScan; it.Next() {
			scanned++
			id := indexID(it.Item().Key(), len(prefix))
			rec, err := getState(txn, id)
			if errors.Is(err, store.ErrNotFound) {
				continue // expired between index and record
			}
			if err != nil {
				return err
			}
			if q.Status != "" && rec.Status != q.Status {
				continue
			}
			if q.Hide != nil && q.Hide(rec.SubscriptionUID) {
				continue
			}
			if rec.Body, err = getBody(txn, id); err != nil {
				return err
			}
			items = append(items, rec.logItem())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	return items, nil
}

// Log returns one log item by message id.
func (s *Store) Log(id string) (store.LogItem, bool, error) {
	if !s.enter() {
		return store.LogItem{}, false, store.ErrClosed
	}
	defer s.leave()
	var rec record
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		rec, err = getRecord(txn, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.LogItem{}, false, nil
	}
	if err != nil {
		return store.LogItem{}, false, fmt.Errorf("read log %s: %w", id, err)
	}
	return rec.logItem(), true, nil
}
