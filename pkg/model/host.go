package model

import "strings"

// DefaultDomainSuffix is the cluster domain Kubernetes services live under.
const DefaultDomainSuffix = "cluster.local"

// ServiceHostname is the hostname of a Kubernetes Service.
func ServiceHostname(name, namespace, domainSuffix string) string {
	return name + "." + namespace + ".svc." + domainSuffix
}

// ResolveHost completes a host written in an object in namespace ns the way
// Istio does: a name without dots ("reviews") is a short name for a service in
// that namespace; anything else ("reviews.prod.svc.cluster.local",
// "*.example.com", "*") is taken as written.
func ResolveHost(host, ns, domainSuffix string) string {
	if host == "*" || strings.Contains(host, ".") {
		return host
	}
	return ServiceHostname(host, ns, domainSuffix)
}

// HostMatches reports whether a config host (possibly a wildcard like
// "*.example.com" or "*") covers a service hostname.
func HostMatches(pattern, host string) bool {
	if pattern == host || pattern == "*" {
		return true
	}
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(host, suffix)
	}
	return false
}

// moreSpecific orders config hosts so that an exact host beats a wildcard and
// a longer wildcard beats a shorter one.
func moreSpecific(a, b string) bool {
	aw, bw := strings.HasPrefix(a, "*"), strings.HasPrefix(b, "*")
	if aw != bw {
		return !aw
	}
	return len(a) > len(b)
}
