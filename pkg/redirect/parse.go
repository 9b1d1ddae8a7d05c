package redirect

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// splitList splits Istio's comma lists, ignoring blanks around items. An
// empty or all-blank string is the empty list; an empty item between commas
// is an error.
func splitList(flag, s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	items := strings.Split(s, ",")
	for i, it := range items {
		items[i] = strings.TrimSpace(it)
		if items[i] == "" {
			return nil, fmt.Errorf("--%s %q: empty item in the comma list", flag, s)
		}
	}
	return items, nil
}

// ParsePort parses one TCP/UDP port, 1..65535.
func ParsePort(flag, s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("--%s %q: not a port (want 1..65535)", flag, s)
	}
	return uint16(n), nil
}

// ParsePorts parses a comma list of ports; duplicates are dropped.
func ParsePorts(flag, s string) ([]uint16, error) {
	items, err := splitList(flag, s)
	if err != nil {
		return nil, err
	}
	var ports []uint16
	for _, it := range items {
		p, err := strconv.ParseUint(it, 10, 16)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("--%s %q: %q is not a port (want 1..65535)", flag, s, it)
		}
		ports = appendPort(ports, uint16(p))
	}
	return ports, nil
}

// ParsePortSet is ParsePorts that also accepts "*" (every port) on its own.
func ParsePortSet(flag, s string) (PortSet, error) {
	if strings.TrimSpace(s) == "*" {
		return PortSet{All: true}, nil
	}
	if strings.Contains(s, "*") {
		return PortSet{}, fmt.Errorf("--%s %q: \"*\" must stand alone", flag, s)
	}
	ports, err := ParsePorts(flag, s)
	return PortSet{Ports: ports}, err
}

// ParseCIDRs parses a comma list of IPv4/IPv6 prefixes ("10.0.0.0/8",
// "fd00::/8"); a bare address without its length is an error, host bits
// are cleared, duplicates dropped.
func ParseCIDRs(flag, s string) ([]netip.Prefix, error) {
	items, err := splitList(flag, s)
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, it := range items {
		p, err := netip.ParsePrefix(it)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %q is not a CIDR (want e.g. 10.0.0.0/8 or fd00::/8)", flag, s, it)
		}
		if p.Addr().Is4In6() {
			return nil, fmt.Errorf("--%s %q: %q is an IPv4-mapped IPv6 prefix; write the IPv4 prefix", flag, s, it)
		}
		p = p.Masked()
		dup := false
		for _, q := range out {
			dup = dup || q == p
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out, nil
}

// ParseCIDRSet is ParseCIDRs that also accepts "*" (every address) on its
// own.
func ParseCIDRSet(flag, s string) (CIDRSet, error) {
	if strings.TrimSpace(s) == "*" {
		return CIDRSet{All: true}, nil
	}
	if strings.Contains(s, "*") {
		return CIDRSet{}, fmt.Errorf("--%s %q: \"*\" must stand alone", flag, s)
	}
	p, err := ParseCIDRs(flag, s)
	return CIDRSet{Prefixes: p}, err
}

// ParseIDs parses a comma list of uids or gids.
func ParseIDs(flag, s string) ([]uint32, error) {
	items, err := splitList(flag, s)
	if err != nil {
		return nil, err
	}
	var ids []uint32
	for _, it := range items {
		n, err := strconv.ParseUint(it, 10, 32)
		if err != nil || n == 1<<32-1 {
			return nil, fmt.Errorf("--%s %q: %q is not a numeric uid/gid", flag, s, it)
		}
		seen := false
		for _, id := range ids {
			seen = seen || id == uint32(n)
		}
		if !seen {
			ids = append(ids, uint32(n))
		}
	}
	return ids, nil
}

func appendPort(ports []uint16, p uint16) []uint16 {
	for _, q := range ports {
		if q == p {
			return ports
		}
	}
	return append(ports, p)
}
