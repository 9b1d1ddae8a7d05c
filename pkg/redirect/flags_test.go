package redirect

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestFlagDefaultsAreIstios(t *testing.T) {
	cfg, err := configFromArgs(t)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ProxyPort != 15001 || cfg.InboundCapturePort != 15006 {
		t.Errorf("ports %d/%d, want 15001/15006", cfg.ProxyPort, cfg.InboundCapturePort)
	}
	if !slices.Equal(cfg.ProxyUIDs, []uint32{1337}) || !slices.Equal(cfg.ProxyGIDs, []uint32{1337}) {
		t.Errorf("proxy uid/gid %v/%v, want 1337/1337", cfg.ProxyUIDs, cfg.ProxyGIDs)
	}
	if !cfg.OutboundIncludeCIDRs.All || !cfg.InboundIncludePorts.All || cfg.RedirectDNS {
		t.Errorf("defaults %+v: want all outbound and inbound captured, no DNS", cfg)
	}
}

func TestProxyGIDDefaultsToUID(t *testing.T) {
	cfg, err := configFromArgs(t, "--proxy-uid", "2000")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.ProxyGIDs, []uint32{2000}) {
		t.Errorf("gids %v, want [2000] (Istio: the gid defaults to the uid)", cfg.ProxyGIDs)
	}
	cfg, err = configFromArgs(t, "--proxy-uid", "2000", "--proxy-gid", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.ProxyGIDs) != 0 {
		t.Errorf("explicitly empty --proxy-gid gave %v", cfg.ProxyGIDs)
	}
}

func TestDNSServersFromResolvConf(t *testing.T) {
	cfg, err := configFromArgs(t, "--redirect-dns")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("10.96.0.10"), netip.MustParseAddr("fd00:10:96::a"), netip.MustParseAddr("fe80::1")}
	if !slices.Equal(cfg.DNSServers, want) {
		t.Errorf("DNS servers %v, want %v", cfg.DNSServers, want)
	}
}

func TestBadFlagValuesNameTheFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--envoy-port", "0"}, "--envoy-port"},
		{[]string{"--envoy-port", "65536"}, "--envoy-port"},
		{[]string{"--inbound-capture-port", "x"}, "--inbound-capture-port"},
		{[]string{"--proxy-uid", "-1"}, "--proxy-uid"},
		{[]string{"--proxy-gid", "abc"}, "--proxy-gid"},
		{[]string{"--proxy-uid", "", "--proxy-gid", ""}, "--proxy-uid and --proxy-gid are both empty"},
		{[]string{"--istio-inbound-interception-mode", "TPROXY"}, "--istio-inbound-interception-mode TPROXY: not supported"},
		{[]string{"--istio-inbound-interception-mode", "redirect"}, "--istio-inbound-interception-mode"},
		{[]string{"--istio-service-cidr", "10.0.0.0/33"}, "--istio-service-cidr"},
		{[]string{"--istio-service-cidr", "10.0.0.1"}, "--istio-service-cidr"},
		{[]string{"--istio-service-cidr", "*,10.0.0.0/8"}, "--istio-service-cidr"},
		{[]string{"--istio-service-cidr", "10.0.0.0/8,,"}, "--istio-service-cidr"},
		{[]string{"--istio-service-exclude-cidr", "*"}, "--istio-service-exclude-cidr"},
		{[]string{"--istio-service-exclude-cidr", "::ffff:10.0.0.0/104"}, "--istio-service-exclude-cidr"},
		{[]string{"--istio-inbound-ports", "80,http"}, "--istio-inbound-ports"},
		{[]string{"--istio-local-exclude-ports", "0"}, "--istio-local-exclude-ports"},
		{[]string{"--istio-local-outbound-ports-exclude", "70000"}, "--istio-local-outbound-ports-exclude"},
		{[]string{"--istio-outbound-ports", "*"}, "--istio-outbound-ports"},
		{[]string{"--capture-all-dns"}, "--capture-all-dns needs --redirect-dns"},
	} {
		_, err := configFromArgs(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}

func TestParsersNormalise(t *testing.T) {
	p, err := ParseCIDRs("x", " 10.1.2.3/8 , fd00::1/8,10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}; !slices.Equal(p, want) {
		t.Errorf("ParseCIDRs = %v, want %v (masked, deduplicated)", p, want)
	}
	ports, err := ParsePorts("x", "80, 443,80")
	if err != nil || !slices.Equal(ports, []uint16{80, 443}) {
		t.Errorf("ParsePorts = %v, %v", ports, err)
	}
	if ports, err := ParsePorts("x", " "); err != nil || ports != nil {
		t.Errorf("blank port list = %v, %v; want none", ports, err)
	}
}
