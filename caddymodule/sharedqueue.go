package caddymodule

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sidehook/sidehook/queue"
)

// sameDeliveryForSharedQueue reports, as a config error, the first delivery setting in which a handler (next)
// differs from the handlers already registered for queue directory dir (first). One directory is one Badger
// database with one worker pool, so it can honour only one delivery config: before this check the first
// handler's won and the others' settings were silently ignored, which an operator would only find out when
// retries or limits did not behave as written. Settings are compared as the queue applies them (defaults
// filled in), so `workers 16` and no workers line agree. The hooks code sets (OnAttempt, LookupIP, Now) are
// not settings and are not compared.
func sameDeliveryForSharedQueue(dir string, first, next queue.Config) error {
	a, b := first.Effective(), next.Effective()
	type setting struct {
		name        string
		first, next any
		same        bool
	}
	settings := []setting{
		{"workers", a.Workers, b.Workers, a.Workers == b.Workers},
		{"per_destination", a.PerDestination, b.PerDestination, a.PerDestination == b.PerDestination},
		{"timeout", a.Timeout, b.Timeout, a.Timeout == b.Timeout},
		{"retry", a.Retry, b.Retry, slices.Equal(a.Retry, b.Retry)},
		{"daily_limit", a.DailyLimit, b.DailyLimit, a.DailyLimit == b.DailyLimit},
		{"allow_destination", a.AllowDestination, b.AllowDestination, sameDestinations(a, b)},
		{"keep_logs", a.KeepLogs, b.KeepLogs, a.KeepLogs == b.KeepLogs},
		{"gc_interval", a.GCInterval, b.GCInterval, a.GCInterval == b.GCInterval},
		{"paused", a.Paused, b.Paused, a.Paused == b.Paused},
	}
	var differ []string
	for _, s := range settings {
		if !s.same {
			differ = append(differ, fmt.Sprintf("%s %s here, %s in another handler", s.name, describeSetting(s.next), describeSetting(s.first)))
		}
	}
	if len(differ) == 0 {
		return nil
	}
	return fmt.Errorf("queue_dir %s is shared by sidehook handlers whose delivery settings differ (%s); "+
		"handlers sharing a queue_dir share one delivery engine, so give them the same delivery block or each its own queue_dir",
		dir, strings.Join(differ, "; "))
}

// sameDestinations compares allow_destination as sets: the order of the ranges changes nothing.
func sameDestinations(a, b queue.Config) bool {
	key := func(c queue.Config) []string {
		out := make([]string, 0, len(c.AllowDestination))
		for _, p := range c.AllowDestination {
			out = append(out, p.String())
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(key(a), key(b))
}

// describeSetting prints a setting the way the Caddyfile spells it (durations as 5s, lists space-separated).
func describeSetting(v any) string {
	switch v := v.(type) {
	case []time.Duration:
		parts := make([]string, len(v))
		for i, d := range v {
			parts[i] = d.String()
		}
		return "[" + strings.Join(parts, " ") + "]"
	default:
		return fmt.Sprint(v)
	}
}
