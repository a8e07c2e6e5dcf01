package queue

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 ranges that carry an IPv4 address, or that are local to a site. A webhook URL such as
// http://[64:ff9b::a9fe:a9fe]/ reaches 169.254.169.254 (the cloud metadata service) through a NAT64
// gateway, and http://[2002:7f00:1::]/ reaches 127.0.0.1 through a 6to4 relay: judging such an
// address by its IPv6 form alone would let every IPv4 refusal be walked around. The guard therefore
// judges each by the IPv4 address it carries (embeddedIPv4).
var (
	// nat64WellKnown is RFC 6052's well-known prefix: the IPv4 address is the last 32 bits.
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")
	// nat64LocalUse is RFC 8215's prefix for an operator's own translators. Where the IPv4 address
	// sits inside it depends on the length the operator chose (RFC 6052 allows six), so it cannot
	// be read reliably; and a translator of the operator's own network is by definition internal.
	// Refused like a private range.
	nat64LocalUse = netip.MustParsePrefix("64:ff9b:1::/48")
	// sixToFour is RFC 3056's 6to4: the IPv4 address is bits 16 to 48.
	sixToFour = netip.MustParsePrefix("2002::/16")
	// teredo is RFC 4380's Teredo: the server's IPv4 address is bits 32 to 64, the client's is the
	// last 32 bits, inverted (XOR 0xffffffff).
	teredo = netip.MustParsePrefix("2001::/32")
	// ipv4Compatible is RFC 4291's deprecated IPv4-compatible form ::a.b.c.d: the last 32 bits. ::
	// and ::1 lie in it too; they are judged as unspecified and loopback before this range is.
	ipv4Compatible = netip.MustParsePrefix("::/96")
	// siteLocal is fec0::/10, deprecated by RFC 3879 but still routed inside some networks: the
	// IPv6 counterpart of a private range.
	siteLocal = netip.MustParsePrefix("fec0::/10")
)

// embeddedIPv4 returns the IPv4 addresses an IPv6 address carries by NAT64 (well-known prefix),
// 6to4, Teredo (server and client) or the IPv4-compatible form, with the name of the scheme; no
// addresses for any other address. IPv4-mapped addresses are not handled here: the guard unmaps
// them before anything else.
func embeddedIPv4(addr netip.Addr) (scheme string, carried []netip.Addr) {
	if !addr.Is6() || addr.Is4In6() {
		return "", nil
	}
	b := addr.As16()
	switch {
	case nat64WellKnown.Contains(addr):
		return "NAT64", []netip.Addr{netip.AddrFrom4([4]byte(b[12:16]))}
	case sixToFour.Contains(addr):
		return "6to4", []netip.Addr{netip.AddrFrom4([4]byte(b[2:6]))}
	case teredo.Contains(addr):
		var client [4]byte
		binary.BigEndian.PutUint32(client[:], binary.BigEndian.Uint32(b[12:16])^0xffffffff)
		return "Teredo", []netip.Addr{netip.AddrFrom4([4]byte(b[4:8])), netip.AddrFrom4(client)}
	case ipv4Compatible.Contains(addr):
		return "IPv4-compatible", []netip.Addr{netip.AddrFrom4([4]byte(b[12:16]))}
	}
	return "", nil
}
