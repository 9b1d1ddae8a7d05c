package validation

import (
	"fmt"
	"strings"
	"unicode"

	networking "istio.io/api/networking/v1alpha3"
)

// The SNI an Istio client sends to another cluster's east-west gateway in AUTO_PASSTHROUGH
// mode: outbound_.<port>_._.<hostname>.
const (
	autoSNIPrefix = "outbound_"
	autoSNIFormat = "outbound_.<PORT>_._.<HOSTNAME>"
)

// gatewayBoundDomain is Istio's host rule for a VirtualService bound to gateways (its
// ValidateWildcardDomainForVirtualServiceBoundToGateway): a wildcard domain or, where sni is
// set, also the auto-generated SNI outbound_.<port>_._.<hostname>, which Istio checks only
// loosely (a digit in the port part, a letter in the hostname part), as here.
func gatewayBoundDomain(sni bool, name string) error {
	if err := domainPreconditions(name); err != nil {
		return err
	}
	if !sni || !strings.HasPrefix(name, autoSNIPrefix) {
		return wildcardDomain(name)
	}
	parts := strings.Split(name, "_")
	if len(parts) < 4 {
		return fmt.Errorf("host name %q does not follow the %s format", name, autoSNIFormat)
	}
	if p := strings.Trim(parts[1], "."); !strings.ContainsFunc(p, unicode.IsDigit) {
		return fmt.Errorf("host name %q: port %q is not a number (format %s)", name, p, autoSNIFormat)
	}
	if h := strings.Trim(parts[3], "."); !strings.ContainsFunc(h, isASCIILetter) {
		return fmt.Errorf("host name %q: %q is not a host name (format %s)", name, h, autoSNIFormat)
	}
	return nil
}

func isASCIILetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

// hasSNIMatch is Istio's isSniHost: some TLS route matches on SNI hosts.
func hasSNIMatch(vs *networking.VirtualService) bool {
	for _, t := range vs.GetTls() {
		for _, m := range t.GetMatch() {
			if len(m.GetSniHosts()) > 0 {
				return true
			}
		}
	}
	return false
}

// notOnMesh is Istio's isGateway, by which it checks SNI hosts: the VirtualService does not
// name the mesh gateway (true also when it names no gateway at all).
func notOnMesh(vs *networking.VirtualService) bool {
	for _, g := range vs.GetGateways() {
		if g == "mesh" {
			return false
		}
	}
	return true
}
