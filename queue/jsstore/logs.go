package jsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sidehook/sidehook/queue/store"
)

// Logs returns the log items q selects, newest first by the events' created time (then id, which sorts by
// time too). It reads the log states of the client (one key filter) or of every client, sorts them, applies
// Hide before Limit, and reads the bodies of the items it returns only.
func (s *Store) Logs(q store.LogQuery) ([]store.LogItem, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLogLimit
	}
	filter := ">"
	if !q.AnyClient {
		filter = token(q.ClientID) + ".*"
	}
	ctx, cancel := s.request()
	defer cancel()
	entries, err := readAll(ctx, s.b.logs, s.b.logsStream, filter)
	if err != nil {
		return nil, fmt.Errorf("jsstore: reading logs: %w", err)
	}
	type found struct {
		id    string
		state logState
	}
	var picked []found
	for _, e := range entries {
		var st logState
		if err := json.Unmarshal(e.value, &st); err != nil {
			return nil, fmt.Errorf("jsstore: log %s: %w", e.key, err)
		}
		if st.expired() || q.Status != "" && st.Status != q.Status {
			continue
		}
		picked = append(picked, found{id: lastToken(e.key), state: st})
	}
	sort.Slice(picked, func(a, b int) bool {
		if picked[a].state.Created != picked[b].state.Created {
			return picked[a].state.Created > picked[b].state.Created
		}
		return picked[a].id > picked[b].id
	})
	items := make([]store.LogItem, 0, min(limit, len(picked)))
	for _, f := range picked {
		if len(items) == limit {
			break
		}
		if q.Hide != nil && q.Hide(f.state.SubscriptionUID) {
			continue
		}
		ev, ok, err := s.readEvent(ctx, f.id)
		if err != nil {
			return nil, err
		}
		if ok {
			items = append(items, f.state.logItem(ev.ID, ev.Body))
		}
	}
	return items, nil
}

// Log returns the log item of id.
func (s *Store) Log(id string) (store.LogItem, bool, error) {
	if s.isClosed() {
		return store.LogItem{}, false, store.ErrClosed
	}
	ctx, cancel := s.request()
	defer cancel()
	stored, err := s.readLog(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.LogItem{}, false, nil
	}
	if err != nil {
		return store.LogItem{}, false, err
	}
	return stored.state.logItem(id, stored.event.Body), true, nil
}

// readEvent reads the event whose id token is idToken; found is false when there is none.
func (s *Store) readEvent(ctx context.Context, idToken string) (store.Event, bool, error) {
	e, err := s.b.events.Get(ctx, idToken)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return store.Event{}, false, nil
	}
	if err != nil {
		return store.Event{}, false, fmt.Errorf("jsstore: reading event %s: %w", idToken, err)
	}
	var ev store.Event
	if err := json.Unmarshal(e.Value(), &ev); err != nil {
		return store.Event{}, false, fmt.Errorf("jsstore: event %s: %w", idToken, err)
	}
	return ev, true, nil
}
