package redirect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// IPv6Passthrough is the source address of Envoy's inbound passthrough
// connections over IPv6 (127.0.0.6 for IPv4, which lo's 127.0.0.0/8
// already holds). IPv6 gives lo only ::1/128, so Istio adds ::6/128 to lo
// (`ip -6 addr add ::6/128 dev lo`); AddIPv6Passthrough does the same.
var IPv6Passthrough = netip.MustParseAddr("::6")

// loopbackIndex is lo's interface index, 1 in every network namespace.
const loopbackIndex = 1

// AddIPv6Passthrough adds ::6/128 to lo in the namespace over rtnetlink;
// an address already there is not an error.
func AddIPv6Passthrough(ns Namespace) error {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: ns.NetNSFd})
	if err != nil {
		return fmt.Errorf("rtnetlink: %w", err)
	}
	defer func() { _ = c.Close() }()
	// struct ifaddrmsg: family, prefixlen, flags, scope, index.
	hdr := make([]byte, 8)
	hdr[0], hdr[1] = unix.AF_INET6, 128
	binary.NativeEndian.PutUint32(hdr[4:], loopbackIndex)
	addr := IPv6Passthrough.AsSlice()
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.IFA_LOCAL, Data: addr},
		{Type: unix.IFA_ADDRESS, Data: addr},
	})
	if err != nil {
		return err
	}
	_, err = c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_NEWADDR, Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Excl},
		Data:   append(hdr, attrs...),
	})
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("adding %s/128 to lo: %w", IPv6Passthrough, err)
	}
	return nil
}
