package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/sidehook/sidehook/queue"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI serves sidehook's operator routes on Caddy's admin endpoint (docs/operations.md#admin-api):
//
//	GET  /sidehook/subscriptions          every subscription of every client (secrets left out, URL passwords masked)
//	GET  /sidehook/logs?status=&limit=    delivery log items, newest first (URL passwords masked)
//	POST /sidehook/logs/<id>/retry        attempt a delivery again now
//	GET  /sidehook/stats                  queue depth, in flight, dead, delivered, failed, limited, budget reserved
//
// It reads the queues of the running config from the usage pool, so it needs no config of its own.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.sidehook",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the admin routes.
func (a adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/sidehook/subscriptions", Handler: caddy.AdminHandlerFunc(a.subscriptions)},
		{Pattern: "/sidehook/logs", Handler: caddy.AdminHandlerFunc(a.logs)},
		{Pattern: "/sidehook/logs/", Handler: caddy.AdminHandlerFunc(a.retry)},
		{Pattern: "/sidehook/stats", Handler: caddy.AdminHandlerFunc(a.stats)},
	}
}

// liveQueues lists the open queues, sorted by directory so answers are stable.
func liveQueues() []*queueEntry {
	var out []*queueEntry
	queues.Range(func(_, v any) bool {
		out = append(out, v.(*queueEntry))
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].dir < out[j].dir })
	return out
}

func (adminAPI) subscriptions(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r.Method)
	}
	seen := map[string]bool{}
	views := []subscriptionView{}
	for _, e := range liveQueues() {
		for _, s := range e.endpoints.subscriptions() {
			if seen[s.UID] {
				continue
			}
			seen[s.UID] = true
			v := viewOf(s)
			v.Secret = "" // operators manage deliveries, not receivers' keys
			v.WebhookURL = maskURLPassword(v.WebhookURL)
			views = append(views, v)
		}
	}
	return writeJSON(w, views)
}

func (adminAPI) logs(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r.Method)
	}
	q := queue.LogQuery{AnyClient: true, Status: r.URL.Query().Get("status"), Limit: 100}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("limit must be a number >= 1, got %q", s)}
		}
		q.Limit = min(n, 10000)
	}
	items := []queue.LogItem{}
	for _, e := range liveQueues() {
		got, err := e.q.Logs(q)
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
		}
		items = append(items, got...)
	}
	for i := range items { // a receiver's basic-auth password is its client's secret, not the operator's
		items[i].RequestData = maskURLPasswordIn(items[i].RequestData, items[i].WebhookURL)
		items[i].WebhookURL = maskURLPassword(items[i].WebhookURL)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].ID > items[j].ID }) // ids sort by time
	if len(items) > q.Limit {
		items = items[:q.Limit]
	}
	return writeJSON(w, items)
}

func (adminAPI) retry(w http.ResponseWriter, r *http.Request) error {
	id, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/sidehook/logs/"), "/retry")
	if !ok || id == "" || strings.Contains(id, "/") {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no such route %s", r.URL.Path)}
	}
	if r.Method != http.MethodPost {
		return methodNotAllowed(r.Method)
	}
	for _, e := range liveQueues() {
		err := e.q.Retry(id)
		if errors.Is(err, queue.ErrNotFound) {
			continue
		}
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusConflict, Err: err}
		}
		return writeJSON(w, map[string]any{"retried": id})
	}
	return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("log item %s not found", id)}
}

// queueStats is one queue's line in /sidehook/stats.
type queueStats struct {
	Dir string `json:"queue_dir"`
	queue.Stats
}

func (adminAPI) stats(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r.Method)
	}
	var total queue.Stats
	per := []queueStats{}
	for _, e := range liveQueues() {
		s := e.q.Stats()
		per = append(per, queueStats{Dir: e.dir, Stats: s})
		total.Depth += s.Depth
		total.InFlight += s.InFlight
		total.Dead += s.Dead
		total.Delivered += s.Delivered
		total.Failed += s.Failed
		total.Limited += s.Limited
	}
	return writeJSON(w, struct {
		queue.Stats
		// BudgetReserved is what observed calls in flight hold of the memory budget; 0 when none is in flight.
		BudgetReserved int64        `json:"budget_reserved_bytes"`
		Queues         []queueStats `json:"queues"`
	}{total, memoryBudget.Used(), per})
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

func methodNotAllowed(m string) error {
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", m)}
}

// Interface guard.
var _ caddy.AdminRouter = adminAPI{}
