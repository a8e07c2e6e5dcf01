package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ErrDestinationRefused marks a destination the guard will not connect to.
var ErrDestinationRefused = errors.New("destination refused")

var (
	cgnat         = netip.MustParsePrefix("100.64.0.0/10")
	thisNetwork   = netip.MustParsePrefix("0.0.0.0/8")
	limitedBcast  = netip.MustParseAddr("255.255.255.255")
	errNoAddrs    = errors.New("host resolves to no address")
	errBadURLKind = errors.New("webhook URL must be an absolute http or https URL")
)

// refusalReason says why addr itself may not be a webhook destination, "" when
// it may. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry,
// so ::ffff:10.0.0.1 cannot sneak past the private check; the other forms that
// carry an IPv4 address are judged by refusal.
func refusalReason(addr netip.Addr) string {
	addr = addr.Unmap()
	switch {
	case !addr.IsValid():
		return "invalid address"
	case addr.IsLoopback():
		return "loopback"
	case addr.IsPrivate():
		return "private"
	case addr.IsLinkLocalUnicast():
		return "link-local"
	case cgnat.Contains(addr):
		return "carrier-grade NAT"
	case addr.IsUnspecified() || thisNetwork.Contains(addr):
		return "unspecified"
	case addr.IsMulticast() || addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast():
		return "multicast"
	case addr == limitedBcast:
		return "broadcast"
	case siteLocal.Contains(addr):
		return "site-local"
	case nat64LocalUse.Contains(addr):
		return "NAT64 local-use"
	}
	return ""
}

// refusal says why addr may not be dialled under allow_destination, "" when
// it may. An IPv6 address that carries an IPv4 address (NAT64, 6to4, Teredo,
// IPv4-compatible; see embeddedIPv4) reaches that IPv4 host through a
// translator or a tunnel, so it is refused whenever the IPv4 address would
// be; listing either the IPv6 address's range or the IPv4 one in
// allow_destination allows it.
func refusal(addr netip.Addr, allow []netip.Prefix) string {
	if allowedByList(addr, allow) {
		return ""
	}
	if reason := refusalReason(addr); reason != "" {
		return reason
	}
	scheme, carried := embeddedIPv4(addr.Unmap())
	for _, v4 := range carried {
		if reason := refusal(v4, allow); reason != "" {
			return fmt.Sprintf("%s form of %s, %s", scheme, v4, reason)
		}
	}
	return ""
}

// allowedByList reports whether an operator listed addr in allow_destination.
func allowedByList(addr netip.Addr, allow []netip.Prefix) bool {
	for _, p := range allow {
		if p.Contains(addr) || p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// checkAddr returns nil if addr may be dialled, else an ErrDestinationRefused.
func checkAddr(host string, addr netip.Addr, allow []netip.Prefix) error {
	reason := refusal(addr, allow)
	if reason == "" {
		return nil
	}
	return fmt.Errorf("%w: %s resolves to %s (%s; not in allow_destination)", ErrDestinationRefused, host, addr, reason)
}

// resolve returns host's addresses; an IP literal is its own answer.
func resolve(ctx context.Context, host string, lookup func(context.Context, string) ([]netip.Addr, error)) ([]netip.Addr, error) {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if addr, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{addr.WithZone("")}, nil
	}
	if lookup == nil {
		lookup = defaultLookup
	}
	addrs, err := lookup(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: %w", host, errNoAddrs)
	}
	return addrs, nil
}

func defaultLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// CheckDestination resolves rawURL's host and fails if it is not absolute
// http(s) or if any resolved address is refused. It is the management API's
// early answer; the dialer checks again at every connection, after DNS, since
// a name can change what it points at between add and delivery.
func CheckDestination(ctx context.Context, rawURL string, allow []netip.Prefix, lookup func(context.Context, string) ([]netip.Addr, error)) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("%w: %v", errBadURLKind, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return errBadURLKind
	}
	addrs, err := resolve(ctx, u.Hostname(), lookup)
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		if err := checkAddr(u.Hostname(), addr, allow); err != nil {
			return err
		}
	}
	return nil
}

// guardSettings are the destination rules in force for one dial.
type guardSettings struct {
	allow  []netip.Prefix
	lookup func(context.Context, string) ([]netip.Addr, error)
}

func (q *Queue) guardSettings() guardSettings {
	cfg := q.config()
	return guardSettings{allow: cfg.AllowDestination, lookup: cfg.LookupIP}
}

// sameGuard reports whether two configs have the same destination rules.
func sameGuard(a, b Config) bool {
	return slices.Equal(a.AllowDestination, b.AllowDestination)
}

// guardedDialer resolves the host itself and connects only to allowed
// addresses, so the check and the connection use the same IP (no DNS
// rebinding between them).
type guardedDialer struct {
	settings func() guardSettings
	dialer   net.Dialer
}

func (d *guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	port, err := net.LookupPort(network, portText)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	s := d.settings()
	addrs, err := resolve(ctx, host, s.lookup)
	if err != nil {
		return nil, err
	}
	var firstRefusal error
	var lastDialErr error
	for _, addr := range addrs {
		if err := checkAddr(host, addr, s.allow); err != nil {
			if firstRefusal == nil {
				firstRefusal = err
			}
			continue
		}
		target := netip.AddrPortFrom(addr.Unmap(), uint16(port)).String()
		conn, err := d.dialer.DialContext(ctx, network, target)
		if err == nil {
			return conn, nil
		}
		lastDialErr = err
		if ctx.Err() != nil {
			break
		}
	}
	if lastDialErr != nil {
		return nil, lastDialErr
	}
	return nil, firstRefusal
}

// newGuardedTransport is the only way deliveries reach the network. It
// ignores proxy environment variables: a proxy would make the guard check
// the proxy's address instead of the destination's.
func newGuardedTransport(settings func() guardSettings) *http.Transport {
	d := &guardedDialer{settings: settings, dialer: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256, // at least PerDestination: every attempt slot keeps its connection
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
