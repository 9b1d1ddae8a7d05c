package validation

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Host syntax as Istio checks it: DNS-1123 labels (upper case allowed), a wildcard only as
// the whole first label or its prefix ("*", "*.example.com", "*-foo.example.com").
var (
	dnsLabel      = regexp.MustCompile(`^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$`)
	wildcardLabel = regexp.MustCompile(`^(\*|(\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$`)
)

func isIstioDNSLabel(s string) bool { return len(s) <= 63 && dnsLabel.MatchString(s) }

func domainPreconditions(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty host name")
	case len(name) > 255:
		return fmt.Errorf("host name %q is longer than 255 characters", name)
	}
	return nil
}

// dnsLabels checks the dot-separated labels of a name; a trailing dot is allowed.
func dnsLabels(name string) error {
	parts := strings.Split(name, ".")
	if _, err := strconv.Atoi(parts[len(parts)-1]); err == nil {
		return fmt.Errorf("host name %q: the top-level domain %q cannot be all-numeric", name, parts[len(parts)-1])
	}
	for i, label := range parts {
		if i == len(parts)-1 && label == "" && i > 0 {
			return nil
		}
		if !isIstioDNSLabel(label) {
			return fmt.Errorf("host name %q: label %q is not a DNS-1123 label", name, label)
		}
	}
	return nil
}

// fqdn checks a host name without wildcards.
func fqdn(name string) error {
	if err := domainPreconditions(name); err != nil {
		return err
	}
	return dnsLabels(name)
}

// wildcardDomain checks a host name that may start with a wildcard label.
func wildcardDomain(name string) error {
	if err := domainPreconditions(name); err != nil {
		return err
	}
	first, rest, more := strings.Cut(name, ".")
	if len(first) > 63 || !wildcardLabel.MatchString(first) {
		return fmt.Errorf("host name %q: label %q is not a DNS-1123 label (a wildcard may only start the first label)", name, first)
	}
	if more {
		return dnsLabels(rest)
	}
	return nil
}

// partialWildcard rejects wildcards other than "*" or a leading "*.".
func partialWildcard(name string) error {
	if strings.Contains(name, "*") && name != "*" && !strings.HasPrefix(name, "*.") {
		return fmt.Errorf("partial wildcard %q is not allowed", name)
	}
	return nil
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// ipOrCIDR accepts an address or, with one '/', a CIDR block.
func ipOrCIDR(s string) error {
	if strings.Contains(s, "/") {
		if _, err := netip.ParsePrefix(s); err != nil {
			return fmt.Errorf("%q is not a valid CIDR block", s)
		}
		return nil
	}
	if !isIP(s) {
		return fmt.Errorf("%q is not a valid IP address", s)
	}
	return nil
}

func port(n int64) error {
	if n < 1 || n > 65535 {
		return fmt.Errorf("port number %d is not in 1..65535", n)
	}
	return nil
}

func portName(name string) error {
	if !isIstioDNSLabel(name) {
		return fmt.Errorf("port name %q is not a DNS-1123 label", name)
	}
	return nil
}

// namespaceSlashHost checks the "namespace/host" entries of Sidecar egress and Gateway
// servers. Gateways also accept a bare host (the old form) and IP addresses.
func namespaceSlashHost(entry string, gateway bool) []error {
	var errs []error
	ns, host, ok := strings.Cut(entry, "/")
	if !ok {
		if gateway {
			return hostPart(entry, true)
		}
		return []error{fmt.Errorf("host %q must be of the form namespace/dnsName", entry)}
	}
	if ns == "" || host == "" {
		errs = append(errs, fmt.Errorf("host %q: namespace and dnsName cannot be empty", entry))
	}
	if gateway {
		if ns != "*" && ns != "." && !isIstioDNSLabel(ns) {
			errs = append(errs, fmt.Errorf("host %q: invalid namespace %q", entry, ns))
		}
	} else if n := strings.TrimPrefix(ns, "~"); n != "" && n != "*" && n != "." && !isIstioDNSLabel(n) {
		errs = append(errs, fmt.Errorf("host %q: invalid namespace %q", entry, ns))
	}
	return append(errs, hostPart(host, gateway)...)
}

func hostPart(host string, gateway bool) []error {
	var errs []error
	if host != "*" && !strings.Contains(host, ".") {
		errs = append(errs, fmt.Errorf("host %q: short names (not fully qualified) are not allowed", host))
	}
	if err := wildcardDomain(host); err != nil && !(gateway && isIP(host)) {
		errs = append(errs, err)
	}
	if err := partialWildcard(host); err != nil {
		errs = append(errs, err)
	}
	return errs
}
