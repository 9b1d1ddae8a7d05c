package redirect

import (
	"errors"
	"fmt"
	"net/netip"
)

// Ports Istio's sidecar serves that inbound capture always skips: Envoy's
// Prometheus stats (15090), the readiness endpoint (15021) and the agent's
// status port (15020). Istio's injector passes them to istio-iptables in
// --istio-local-exclude-ports; here they are part of the model.
var AlwaysExcludedInboundPorts = []uint16{15090, 15021, 15020}

const (
	// DefaultProxyPort is Envoy's outbound capture listener.
	DefaultProxyPort = 15001
	// DefaultInboundCapturePort is Envoy's inbound capture listener.
	DefaultInboundCapturePort = 15006
	// DefaultProxyID is the uid and gid of istio-proxy.
	DefaultProxyID = 1337
	// DNSCapturePort is the agent's DNS proxy.
	DNSCapturePort = 15053
	// InboundTunnelPort is the HBONE port Istio never captures.
	InboundTunnelPort = 15008
	// TableName is the nftables table (in families ip and ip6) Loom owns.
	TableName = "loom"
)

// PortSet is a list of ports, or every port (All).
type PortSet struct {
	All   bool
	Ports []uint16
}

// CIDRSet is a list of prefixes, or every address (All).
type CIDRSet struct {
	All      bool
	Prefixes []netip.Prefix
}

// Config is what istio-iptables is told, parsed and validated.
type Config struct {
	ProxyPort          uint16
	InboundCapturePort uint16
	ProxyUIDs          []uint32
	ProxyGIDs          []uint32

	// OutboundIncludeCIDRs: addresses whose outbound TCP goes to ProxyPort
	// (Istio's includeOutboundIPRanges, "*" by default).
	OutboundIncludeCIDRs CIDRSet
	// OutboundExcludeCIDRs never go to the proxy (All is invalid).
	OutboundExcludeCIDRs []netip.Prefix
	// OutboundIncludePorts go to the proxy whatever their address.
	OutboundIncludePorts []uint16
	// OutboundExcludePorts never go to the proxy (TCP and UDP).
	OutboundExcludePorts []uint16

	// InboundIncludePorts: All captures every port but InboundExcludePorts;
	// an empty list captures nothing inbound.
	InboundIncludePorts PortSet
	// InboundExcludePorts, only used with InboundIncludePorts.All. Build
	// adds AlwaysExcludedInboundPorts.
	InboundExcludePorts []uint16

	// RedirectDNS captures DNS (UDP and TCP port 53) to DNSCapturePort,
	// except the proxy's own queries. With CaptureAllDNS every destination
	// is captured, otherwise only DNSServers (Istio reads them from
	// /etc/resolv.conf).
	RedirectDNS   bool
	CaptureAllDNS bool
	DNSServers    []netip.Addr
}

// DefaultConfig is Config with Istio's defaults: capture all outbound and
// inbound TCP, proxy uid and gid 1337.
func DefaultConfig() Config {
	return Config{
		ProxyPort:            DefaultProxyPort,
		InboundCapturePort:   DefaultInboundCapturePort,
		ProxyUIDs:            []uint32{DefaultProxyID},
		ProxyGIDs:            []uint32{DefaultProxyID},
		OutboundIncludeCIDRs: CIDRSet{All: true},
		InboundIncludePorts:  PortSet{All: true},
	}
}

// Validate reports a Config that cannot be programmed.
func (c Config) Validate() error {
	var errs []error
	if c.ProxyPort == 0 {
		errs = append(errs, errors.New("proxy port: must be 1..65535"))
	}
	if c.InboundCapturePort == 0 {
		errs = append(errs, errors.New("inbound capture port: must be 1..65535"))
	}
	if len(c.ProxyUIDs) == 0 && len(c.ProxyGIDs) == 0 {
		errs = append(errs, errors.New("proxy uid/gid: at least one is needed, or the proxy's own traffic loops back to itself"))
	}
	for _, p := range c.OutboundExcludeCIDRs {
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("outbound exclude CIDRs: invalid prefix %v", p))
		}
	}
	for _, p := range c.OutboundIncludeCIDRs.Prefixes {
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("outbound include CIDRs: invalid prefix %v", p))
		}
	}
	for _, a := range c.DNSServers {
		if !a.IsValid() {
			errs = append(errs, errors.New("DNS servers: invalid address"))
		}
	}
	for _, l := range []struct {
		name  string
		ports []uint16
	}{
		{"outbound include ports", c.OutboundIncludePorts}, {"outbound exclude ports", c.OutboundExcludePorts},
		{"inbound include ports", c.InboundIncludePorts.Ports}, {"inbound exclude ports", c.InboundExcludePorts},
	} {
		for _, p := range l.ports {
			if p == 0 {
				errs = append(errs, fmt.Errorf("%s: port 0 is not a port", l.name))
			}
		}
	}
	return errors.Join(errs...)
}
