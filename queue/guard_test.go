package queue

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func lookupReturning(addrs ...string) func(context.Context, string) ([]netip.Addr, error) {
	return func(context.Context, string) ([]netip.Addr, error) {
		out := make([]netip.Addr, len(addrs))
		for i, a := range addrs {
			out[i] = netip.MustParseAddr(a)
		}
		return out, nil
	}
}

func TestCheckDestination(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		allow   string // "" = none
		refused bool
	}{
		{"loopback v4", "127.0.0.1", "", true},
		{"loopback v6", "::1", "", true},
		{"mapped private", "::ffff:10.0.0.1", "", true},
		{"private 192.168", "192.168.1.10", "", true},
		{"private fc00::/7", "fd00::1", "", true},
		{"metadata link-local", "169.254.169.254", "", true},
		{"CGNAT", "100.64.0.1", "", true},
		{"link-local v6", "fe80::1", "", true},
		{"unspecified", "0.0.0.0", "", true},
		{"unspecified v6", "::", "", true},
		{"multicast", "224.0.0.1", "", true},
		{"multicast v6", "ff02::1", "", true},
		{"broadcast", "255.255.255.255", "", true},
		{"loopback allowed", "127.0.0.1", "127.0.0.0/8", false},
		{"v6 loopback allowed", "::1", "::1/128", false},
		{"mapped allowed by v4 prefix", "::ffff:10.0.0.1", "10.0.0.0/8", false},
		{"link-local allowed", "169.254.169.254", "169.254.0.0/16", false},
		{"CGNAT allowed", "100.64.0.1", "100.64.0.0/10", false},
		{"fe80 allowed", "fe80::1", "fe80::/10", false},
		{"allow list elsewhere", "127.0.0.1", "10.0.0.0/8", true},
		{"public", "93.184.216.34", "", false},
		{"public v6", "2606:2800:220:1:248:1893:25c8:1946", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var allow []netip.Prefix
			if tt.allow != "" {
				allow = []netip.Prefix{netip.MustParsePrefix(tt.allow)}
			}
			err := CheckDestination(context.Background(), "https://hooks.example.com/x", allow, lookupReturning(tt.addr))
			if tt.refused != errors.Is(err, ErrDestinationRefused) {
				t.Fatalf("CheckDestination(%s, allow %q) = %v, want refused=%v", tt.addr, tt.allow, err, tt.refused)
			}
			if tt.refused && !strings.HasPrefix(err.Error(), "destination refused: ") {
				t.Errorf("error %q does not start with \"destination refused: \"", err)
			}
		})
	}
}

func TestCheckDestinationURLShape(t *testing.T) {
	public := lookupReturning("93.184.216.34")
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://hooks.example.com/x", true},
		{"http://93.184.216.34:8080/x", true},
		{"ftp://hooks.example.com/x", false},
		{"/relative", false},
		{"https://", false},
		{"http://[::1]/x", false},            // literal, no lookup
		{"http://10.1.2.3/x", false},         // literal, no lookup
		{"https://many.example.com/x", true}, // checked below with a mixed answer
		{"not a url at all \x7f", false},
	}
	for _, tt := range tests {
		err := CheckDestination(context.Background(), tt.url, nil, public)
		if (err == nil) != tt.ok {
			t.Errorf("CheckDestination(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
	// One refused address among public ones is enough to refuse.
	err := CheckDestination(context.Background(), "https://many.example.com/", nil, lookupReturning("93.184.216.34", "10.0.0.1"))
	if !errors.Is(err, ErrDestinationRefused) {
		t.Errorf("mixed answer accepted: %v", err)
	}
}

func TestDialerRefusesAfterDNS(t *testing.T) {
	rc := newReceiver(t, statuses(200))
	port := mustPort(t, rc.srv.URL)
	tests := []struct {
		name       string
		lookup     func(context.Context, string) ([]netip.Addr, error)
		allow      []netip.Prefix
		wantStatus string
		wantMetric string
		wantError  string
	}{
		{"private only: refused", lookupReturning("10.0.0.1"), nil, StatusDead, "refused", "destination refused: "},
		{"loopback without allow: refused", lookupReturning("127.0.0.1"), nil, StatusDead, "refused", "destination refused: "},
		{"refused address dropped, allowed one dialled", lookupReturning("10.0.0.1", "127.0.0.1"), loopback, StatusDelivered, StatusDelivered, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rc.count()
			q := newTestQueue(t)
			cfg := testConfig()
			cfg.Retry = []time.Duration{time.Millisecond}
			cfg.LookupIP = tt.lookup
			cfg.AllowDestination = tt.allow
			var mu sync.Mutex
			var outcomes []string
			cfg.OnAttempt = func(a AttemptInfo) {
				mu.Lock()
				defer mu.Unlock()
				outcomes = append(outcomes, a.Outcome)
			}
			q.Configure(cfg, newFakeEndpoints())
			msg := newMessage("http://hooks.test:" + port + "/hook")
			enqueue(t, q, msg)
			waitFor(t, 5*time.Second, statusIs(t, q, msg.ID, tt.wantStatus))
			item := logOf(t, q, msg.ID)
			if !strings.Contains(item.Error, tt.wantError) {
				t.Errorf("log error = %q, want %q", item.Error, tt.wantError)
			}
			delivered := rc.count() - before
			if (tt.wantStatus == StatusDelivered) != (delivered == 1) {
				t.Errorf("receiver got %d requests", delivered)
			}
			waitFor(t, 2*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(outcomes) > 0 && outcomes[len(outcomes)-1] == tt.wantMetric
			})
		})
	}
}

func mustPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// An IPv6 address that carries an IPv4 address reaches that IPv4 host through a translator or a
// tunnel: it gets the IPv4 address's verdict, when the webhook is added and again when it is
// dialled, and allow_destination can allow it by either range.
func TestGuardJudgesIPv6FormsByTheIPv4AddressTheyCarry(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		allow   string // "" = none
		refused bool
	}{
		{"NAT64 of metadata", "64:ff9b::a9fe:a9fe", "", true},
		{"NAT64 of loopback", "64:ff9b::7f00:1", "", true},
		{"NAT64 of private", "64:ff9b::a00:1", "", true},
		{"NAT64 of public", "64:ff9b::5db8:d822", "", false},
		{"NAT64 local-use", "64:ff9b:1::5db8:d822", "", true},
		{"6to4 of loopback", "2002:7f00:1::", "", true},
		{"6to4 of private", "2002:c0a8:10a::1", "", true},
		{"6to4 of public", "2002:5db8:d822::1", "", false},
		{"Teredo with loopback client", "2001:0:5db8:d822::80ff:fffe", "", true},
		{"Teredo with metadata client", "2001:0:5db8:d822::5601:5601", "", true},
		{"Teredo with private server", "2001:0:a00:1::a247:27dd", "", true},
		{"Teredo with public server and client", "2001:0:5db8:d822::a247:27dd", "", false},
		{"IPv4-compatible metadata", "::a9fe:a9fe", "", true},
		{"IPv4-compatible private", "::a00:1", "", true},
		{"IPv4-compatible public", "::5db8:d822", "", false},
		{"site-local", "fec0::1", "", true},
		{"site-local upper end", "feff:ffff::1", "", true},
		{"NAT64 allowed by its IPv6 range", "64:ff9b::a9fe:a9fe", "64:ff9b::/96", false},
		{"NAT64 allowed by the carried range", "64:ff9b::a9fe:a9fe", "169.254.0.0/16", false},
		{"NAT64 local-use allowed by its range", "64:ff9b:1::1", "64:ff9b:1::/48", false},
		{"6to4 allowed by its IPv6 range", "2002:7f00:1::", "2002::/16", false},
		{"6to4 allowed by the carried range", "2002:7f00:1::", "127.0.0.0/8", false},
		{"Teredo allowed by the client's range", "2001:0:5db8:d822::80ff:fffe", "127.0.0.1/32", false},
		{"IPv4-compatible allowed by the carried address", "::a9fe:a9fe", "169.254.169.254/32", false},
		{"site-local allowed by its range", "fec0::1", "fec0::/10", false},
		{"allow list for another carried range", "64:ff9b::a9fe:a9fe", "10.0.0.0/8", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var allow []netip.Prefix
			if tt.allow != "" {
				allow = []netip.Prefix{netip.MustParsePrefix(tt.allow)}
			}
			literal := "[" + tt.addr + "]"

			// At add time: the literal in the URL is judged without any lookup.
			err := CheckDestination(context.Background(), "http://"+literal+"/hook", allow, nil)
			if tt.refused != errors.Is(err, ErrDestinationRefused) {
				t.Errorf("add time: CheckDestination(%s, allow %q) = %v, want refused=%v", literal, tt.allow, err, tt.refused)
			}
			if err != nil && !tt.refused {
				t.Errorf("add time: allowed destination failed otherwise: %v", err)
			}

			// At dial time: the context is already cancelled, so an allowed address fails with the
			// context's error before any packet leaves; a refused one fails with the guard's.
			d := &guardedDialer{settings: func() guardSettings { return guardSettings{allow: allow} }}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(tt.addr, "443"))
			if conn != nil {
				conn.Close()
				t.Fatal("dial time: a connection was made")
			}
			if tt.refused != errors.Is(err, ErrDestinationRefused) {
				t.Errorf("dial time: DialContext(%s, allow %q) = %v, want refused=%v", literal, tt.allow, err, tt.refused)
			}
			if !tt.refused && !errors.Is(err, context.Canceled) {
				t.Errorf("dial time: allowed destination = %v, want the cancelled context's error", err)
			}
		})
	}
}

// The carried address is read from the bits each scheme puts it in.
func TestEmbeddedIPv4ReadsEachScheme(t *testing.T) {
	tests := []struct {
		addr, scheme string
		want         []string
	}{
		{"64:ff9b::a9fe:a9fe", "NAT64", []string{"169.254.169.254"}},
		{"2002:7f00:1::", "6to4", []string{"127.0.0.1"}},
		{"2001:0:5db8:d822::80ff:fffe", "Teredo", []string{"93.184.216.34", "127.0.0.1"}},
		{"::a9fe:a9fe", "IPv4-compatible", []string{"169.254.169.254"}},
		{"::ffff:10.0.0.1", "", nil}, // mapped: unmapped by the guard before this is asked
		{"2606:2800:220:1:248:1893:25c8:1946", "", nil},
		{"10.0.0.1", "", nil},
	}
	for _, tt := range tests {
		scheme, carried := embeddedIPv4(netip.MustParseAddr(tt.addr))
		var got []string
		for _, a := range carried {
			got = append(got, a.String())
		}
		if scheme != tt.scheme || strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("embeddedIPv4(%s) = %q %v, want %q %v", tt.addr, scheme, got, tt.scheme, tt.want)
		}
	}
}
