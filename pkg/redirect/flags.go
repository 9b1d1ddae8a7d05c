package redirect

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Flag names, as Istio's istio-iptables (long forms; the shorthands are
// Istio's too).
const (
	FlagEnvoyPort          = "envoy-port"
	FlagInboundCapturePort = "inbound-capture-port"
	FlagProxyUID           = "proxy-uid"
	FlagProxyGID           = "proxy-gid"
	FlagInterceptionMode   = "istio-inbound-interception-mode"
	FlagServiceCIDR        = "istio-service-cidr"
	FlagServiceExcludeCIDR = "istio-service-exclude-cidr"
	FlagInboundPorts       = "istio-inbound-ports"
	FlagLocalExcludePorts  = "istio-local-exclude-ports"
	FlagOutboundPortsExcl  = "istio-local-outbound-ports-exclude"
	FlagOutboundPorts      = "istio-outbound-ports"
	FlagRedirectDNS        = "redirect-dns"
	FlagCaptureAllDNS      = "capture-all-dns"
	FlagDryRun             = "dry-run"
	FlagCleanup            = "cleanup"
)

// DefaultResolvConf is where the DNS servers to capture are read from.
const DefaultResolvConf = "/etc/resolv.conf"

// Flags are the raw flag values; Parse turns them into a Config.
type Flags struct {
	EnvoyPort, InboundCapturePort             string
	ProxyUID, ProxyGID                        string
	InterceptionMode                          string
	ServiceCIDR, ServiceExcludeCIDR           string
	InboundPorts, LocalExcludePorts           string
	OutboundPortsExclude, OutboundPorts       string
	RedirectDNS, CaptureAllDNS, DryRun, Clean bool
	// ResolvConf is read for the DNS servers when RedirectDNS is set
	// without CaptureAllDNS (no flag; Istio reads /etc/resolv.conf).
	ResolvConf string

	fs *pflag.FlagSet
}

// Bind registers the flags on fs with Istio's names and the defaults of
// Istio's sidecar injection.
func (f *Flags) Bind(fs *pflag.FlagSet) {
	f.fs = fs
	f.ResolvConf = DefaultResolvConf
	fs.StringVarP(&f.EnvoyPort, FlagEnvoyPort, "p", "15001", "Port Envoy captures outbound TCP on")
	fs.StringVarP(&f.InboundCapturePort, FlagInboundCapturePort, "z", "15006", "Port Envoy captures inbound TCP on")
	fs.StringVarP(&f.ProxyUID, FlagProxyUID, "u", "1337", "Comma list of uids whose traffic is never captured (the proxy's)")
	fs.StringVarP(&f.ProxyGID, FlagProxyGID, "g", "", "Comma list of gids whose traffic is never captured; defaults to --proxy-uid")
	fs.StringVarP(&f.InterceptionMode, FlagInterceptionMode, "m", "REDIRECT", "Inbound interception mode; only REDIRECT is supported")
	fs.StringVarP(&f.ServiceCIDR, FlagServiceCIDR, "i", "*", "Comma list of CIDRs whose outbound TCP is captured; \"*\" = all, \"\" = none (includeOutboundIPRanges)")
	fs.StringVarP(&f.ServiceExcludeCIDR, FlagServiceExcludeCIDR, "x", "", "Comma list of CIDRs never captured outbound (excludeOutboundIPRanges)")
	fs.StringVarP(&f.InboundPorts, FlagInboundPorts, "b", "*", "Comma list of inbound ports captured; \"*\" = all, \"\" = none (includeInboundPorts)")
	fs.StringVarP(&f.LocalExcludePorts, FlagLocalExcludePorts, "d", "", "Comma list of inbound ports never captured, with \"*\" inbound ports; 15090,15021,15020 always are (excludeInboundPorts)")
	fs.StringVarP(&f.OutboundPortsExclude, FlagOutboundPortsExcl, "o", "", "Comma list of outbound ports never captured (excludeOutboundPorts)")
	fs.StringVarP(&f.OutboundPorts, FlagOutboundPorts, "q", "", "Comma list of outbound ports captured whatever the destination (includeOutboundPorts)")
	fs.BoolVar(&f.RedirectDNS, FlagRedirectDNS, false, "Capture DNS (TCP and UDP 53) to the agent's port 15053, except the proxy's own")
	fs.BoolVar(&f.CaptureAllDNS, FlagCaptureAllDNS, false, "With --redirect-dns, capture DNS to every server, not only those of /etc/resolv.conf")
	fs.BoolVarP(&f.DryRun, FlagDryRun, "n", false, "Print the rules as an `nft -f` script and change nothing")
	fs.BoolVar(&f.Clean, FlagCleanup, false, "Remove Loom's nftables tables (ip loom, ip6 loom) and nothing else")
}

// Config validates every flag value and returns the Config; each error
// names its flag.
func (f *Flags) Config() (Config, error) {
	cfg := DefaultConfig()
	var errs []error
	port := func(flag, s string, dst *uint16) {
		p, err := ParsePort(flag, s)
		errs = append(errs, err)
		*dst = p
	}
	port(FlagEnvoyPort, f.EnvoyPort, &cfg.ProxyPort)
	port(FlagInboundCapturePort, f.InboundCapturePort, &cfg.InboundCapturePort)

	var err error
	cfg.ProxyUIDs, err = ParseIDs(FlagProxyUID, f.ProxyUID)
	errs = append(errs, err)
	gid, gidFlag := f.ProxyGID, FlagProxyGID
	if gid == "" && (f.fs == nil || !f.fs.Changed(FlagProxyGID)) {
		gid, gidFlag = f.ProxyUID, FlagProxyUID // Istio: the gid defaults to the uid
	}
	cfg.ProxyGIDs, err = ParseIDs(gidFlag, gid)
	errs = append(errs, err)
	if err == nil && len(cfg.ProxyUIDs) == 0 && len(cfg.ProxyGIDs) == 0 {
		errs = append(errs, fmt.Errorf("--%s and --%s are both empty: the proxy's own traffic would be captured in a loop", FlagProxyUID, FlagProxyGID))
	}

	switch mode := strings.TrimSpace(f.InterceptionMode); mode {
	case "REDIRECT":
	case "TPROXY":
		errs = append(errs, fmt.Errorf("--%s TPROXY: not supported by loom iptables (only REDIRECT)", FlagInterceptionMode))
	default:
		errs = append(errs, fmt.Errorf("--%s %q: want REDIRECT", FlagInterceptionMode, mode))
	}

	cfg.OutboundIncludeCIDRs, err = ParseCIDRSet(FlagServiceCIDR, f.ServiceCIDR)
	errs = append(errs, err)
	if strings.TrimSpace(f.ServiceExcludeCIDR) == "*" {
		errs = append(errs, fmt.Errorf("--%s \"*\": excluding every address would capture nothing; use --%s \"\"", FlagServiceExcludeCIDR, FlagServiceCIDR))
	} else {
		cfg.OutboundExcludeCIDRs, err = ParseCIDRs(FlagServiceExcludeCIDR, f.ServiceExcludeCIDR)
		errs = append(errs, err)
	}
	cfg.InboundIncludePorts, err = ParsePortSet(FlagInboundPorts, f.InboundPorts)
	errs = append(errs, err)
	cfg.InboundExcludePorts, err = ParsePorts(FlagLocalExcludePorts, f.LocalExcludePorts)
	errs = append(errs, err)
	cfg.OutboundExcludePorts, err = ParsePorts(FlagOutboundPortsExcl, f.OutboundPortsExclude)
	errs = append(errs, err)
	cfg.OutboundIncludePorts, err = ParsePorts(FlagOutboundPorts, f.OutboundPorts)
	errs = append(errs, err)

	cfg.RedirectDNS, cfg.CaptureAllDNS = f.RedirectDNS, f.CaptureAllDNS
	if f.CaptureAllDNS && !f.RedirectDNS {
		errs = append(errs, fmt.Errorf("--%s needs --%s", FlagCaptureAllDNS, FlagRedirectDNS))
	}
	if f.RedirectDNS && !f.CaptureAllDNS && !f.Clean {
		cfg.DNSServers, err = ReadNameservers(f.ResolvConf)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

// Options returns the run options the flags ask for.
func (f *Flags) Options() Options {
	return Options{DryRun: f.DryRun, Cleanup: f.Clean}
}

// ReadNameservers returns the nameserver addresses of a resolv.conf file.
func ReadNameservers(path string) ([]netip.Addr, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: reading DNS servers: %w", FlagRedirectDNS, err)
	}
	return ParseNameservers(b), nil
}

// ParseNameservers returns the valid "nameserver" addresses of resolv.conf
// text (a zone suffix such as %eth0 is dropped).
func ParseNameservers(b []byte) []netip.Addr {
	var out []netip.Addr
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil {
			continue
		}
		out = append(out, a.WithZone("").Unmap())
	}
	return out
}
