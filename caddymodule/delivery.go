package caddymodule

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/sidehook/sidehook/queue"
)

// compileDelivery turns the `delivery` block into the queue's config. Zero values are left for the queue to
// default, so the defaults (docs/configuration.md, delivery block) live in one place (the queue package).
func (h *Handler) compileDelivery() (queue.Config, error) {
	cfg := queue.Config{UserAgent: "sidehook/" + Version}
	dc := h.Delivery
	if dc == nil {
		return cfg, nil
	}
	cfg.Workers = dc.Workers
	cfg.PerDestination = dc.PerDestination
	cfg.Timeout = time.Duration(dc.Timeout)
	for _, r := range dc.Retry {
		cfg.Retry = append(cfg.Retry, time.Duration(r))
	}
	if dc.DailyLimit != nil {
		if *dc.DailyLimit < 0 {
			return cfg, fmt.Errorf("delivery daily_limit must be >= 0")
		}
		cfg.DailyLimit = *dc.DailyLimit
		cfg.DailyLimitSet = true
	}
	for _, s := range dc.AllowDestination {
		p, err := parsePrefix(s)
		if err != nil {
			return cfg, fmt.Errorf("delivery allow_destination: %w", err)
		}
		cfg.AllowDestination = append(cfg.AllowDestination, p)
	}
	cfg.KeepLogs = time.Duration(dc.KeepLogs)
	cfg.Paused = dc.Paused
	cfg.GCInterval = time.Duration(dc.GCInterval)
	return cfg, nil
}

// parsePrefix accepts a CIDR or a single address (which becomes a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad CIDR %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad address or CIDR %q", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
