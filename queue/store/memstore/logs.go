package memstore

import (
	"sort"

	"github.com/sidehook/sidehook/queue/store"
)

// Logs returns the log items q selects, newest first. Hide is the caller's function, so it runs
// after the mutex is released, on a snapshot of every selected item, before Limit is applied.
func (s *Store) Logs(q store.LogQuery) ([]store.LogItem, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLogLimit
	}
	s.mu.Lock()
	var picked []*item
	for _, it := range s.items {
		if expired(it) || !q.AnyClient && it.ev.ClientID != q.ClientID || q.Status != "" && it.status != q.Status {
			continue
		}
		picked = append(picked, it)
	}
	sort.Slice(picked, func(a, b int) bool { return picked[a].seq > picked[b].seq })
	snapshot := make([]store.LogItem, len(picked))
	for i, it := range picked {
		snapshot[i] = logItem(it)
	}
	s.mu.Unlock()
	items := make([]store.LogItem, 0, min(limit, len(snapshot)))
	for _, it := range snapshot {
		if len(items) == limit {
			break
		}
		if q.Hide == nil || !q.Hide(it.SubscriptionUID) {
			items = append(items, it)
		}
	}
	return items, nil
}

// Log returns the log item of id.
func (s *Store) Log(id string) (store.LogItem, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.items[id]
	if it == nil || expired(it) {
		return store.LogItem{}, false, nil
	}
	return logItem(it), true, nil
}

// logItem renders it the way the APIs show a log. s.mu is held.
func logItem(it *item) store.LogItem {
	return store.NewLogItem(it.ev, store.Delivery{
		Status:       it.status,
		Attempts:     it.attempts,
		ResponseCode: it.code,
		ResponseData: it.response,
		Error:        it.err,
		NextAttempt:  it.due,
		Processed:    it.processed,
	})
}
