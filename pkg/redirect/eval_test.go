package redirect

import (
	"net/netip"
	"testing"
)

// packet is what the evaluator sees of one TCP/UDP packet at a hook.
type packet struct {
	hook      string // "output" (locally generated) or "prerouting"
	proto     string
	src, dst  netip.Addr
	sport     uint16
	dport     uint16
	oif       string
	uid, gid  uint32
	hasSocket bool
}

// outcome of the nat hook: redirected to a local port, or left alone (0).
func evalNAT(t *testing.T, tb Table, p packet) uint16 {
	t.Helper()
	for _, c := range tb.Chains {
		if c.Hook != nil && c.Hook.Type == "nat" && c.Hook.Hook == p.hook {
			port, _ := evalChain(t, tb, c.Name, p, 0)
			return port
		}
	}
	return 0
}

// evalChain walks one chain; done is true when a redirect (terminal)
// happened.
func evalChain(t *testing.T, tb Table, name string, p packet, depth int) (port uint16, done bool) {
	if depth > 8 {
		t.Fatalf("jump depth exceeded at chain %s (loop?)", name)
	}
	var chain *Chain
	for i := range tb.Chains {
		if tb.Chains[i].Name == name {
			chain = &tb.Chains[i]
		}
	}
	if chain == nil {
		t.Fatalf("jump to missing chain %s", name)
	}
	for _, r := range chain.Rules {
		if !matches(r, p) {
			continue
		}
		switch r.Verdict.Kind {
		case Return:
			return 0, false
		case Jump:
			if port, done := evalChain(t, tb, r.Verdict.Chain, p, depth+1); done {
				return port, true
			}
		case Redirect:
			return r.Verdict.Port, true
		}
	}
	return 0, false
}

func matches(r Rule, p packet) bool {
	if r.OIF != "" && r.OIF != p.oif {
		return false
	}
	if r.L4Proto != "" && r.L4Proto != p.proto {
		return false
	}
	if r.Src.IsValid() && !r.Src.Contains(p.src) {
		return false
	}
	if r.Dst.IsValid() && r.Dst.Contains(p.dst) == r.DstNot {
		return false
	}
	if r.DPort != 0 && r.DPort != p.dport {
		return false
	}
	for _, n := range r.DPortNot {
		if p.dport == n {
			return false
		}
	}
	if r.SPort != 0 && r.SPort != p.sport {
		return false
	}
	// Owner matches never match a packet without a socket, negated or not
	// (as meta skuid and iptables' owner match).
	if r.UID != nil && (!p.hasSocket || (*r.UID == p.uid) == r.UIDNot) {
		return false
	}
	if r.GID != nil && (!p.hasSocket || (*r.GID == p.gid) == r.GIDNot) {
		return false
	}
	return true
}

var (
	podIP  = netip.MustParseAddr("10.244.1.5")
	podIP6 = netip.MustParseAddr("fd00:244::5")
)

// out is a locally generated TCP packet of uid/gid to dst:dport; the
// output interface is lo for local destinations.
func out(uid, gid uint32, dst string, dport uint16) packet {
	d := netip.MustParseAddr(dst)
	src, oif := podIP, "eth0"
	if d.Is6() {
		src = podIP6
	}
	if d.IsLoopback() || d == podIP || d == podIP6 {
		oif = "lo"
	}
	return packet{hook: "output", proto: "tcp", src: src, dst: d, sport: 40000, dport: dport, oif: oif, uid: uid, gid: gid, hasSocket: true}
}

func in(dst string, dport uint16) packet {
	d := netip.MustParseAddr(dst)
	src := netip.MustParseAddr("10.244.1.9")
	if d.Is6() {
		src = netip.MustParseAddr("fd00:244::9")
	}
	return packet{hook: "prerouting", proto: "tcp", src: src, dst: d, sport: 40000, dport: dport}
}

func table(t *testing.T, cfg Config, fam Family) Table {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return Build(cfg, fam)
}

const app, proxy = 1000, 1337

func TestIstioSemantics(t *testing.T) {
	def := DefaultConfig()
	def.InboundExcludePorts = []uint16{8081}
	v4, v6 := table(t, def, IPv4), table(t, def, IPv6)

	withSrc := func(p packet, src string) packet { p.src = netip.MustParseAddr(src); return p }
	udp := func(p packet) packet { p.proto = "udp"; return p }

	cases := []struct {
		name string
		tb   Table
		p    packet
		want uint16
	}{
		{"app outbound to a remote address goes to Envoy", v4, out(app, app, "10.96.0.1", 80), 15001},
		{"app outbound IPv6", v6, out(app, app, "fd00:96::1", 80), 15001},
		{"proxy uid is never captured", v4, out(proxy, app, "10.96.0.1", 80), 0},
		{"proxy gid is never captured", v4, out(app, proxy, "10.96.0.1", 80), 0},
		{"proxy IPv6", v6, out(proxy, proxy, "fd00:96::1", 80), 0},
		{"app to localhost", v4, out(app, app, "127.0.0.1", 8080), 0},
		{"app to ::1", v6, out(app, app, "::1", 8080), 0},
		{"app to its own pod IP over lo", v4, out(app, app, podIP.String(), 8080), 0},
		{"proxy to the pod IP over lo goes inbound", v4, out(proxy, proxy, podIP.String(), 8080), 15006},
		{"proxy to the pod IPv6 over lo goes inbound", v6, out(proxy, proxy, podIP6.String(), 8080), 15006},
		{"proxy to the pod IP on the HBONE port", v4, out(proxy, proxy, podIP.String(), 15008), 0},
		{"proxy to localhost", v4, out(proxy, proxy, "127.0.0.1", 15000), 0},
		{"inbound passthrough from 127.0.0.6", v4, withSrc(out(proxy, proxy, podIP.String(), 8080), "127.0.0.6"), 0},
		{"inbound passthrough from ::6", v6, withSrc(out(proxy, proxy, podIP6.String(), 8080), "::6"), 0},
		{"outbound UDP is not captured", v4, udp(out(app, app, "10.96.0.1", 53)), 0},
		{"inbound goes to 15006", v4, in(podIP.String(), 8080), 15006},
		{"inbound IPv6 goes to 15006", v6, in(podIP6.String(), 8080), 15006},
		{"inbound excluded port", v4, in(podIP.String(), 8081), 0},
		{"inbound stats port", v4, in(podIP.String(), 15090), 0},
		{"inbound readiness port", v4, in(podIP.String(), 15021), 0},
		{"inbound agent status port", v6, in(podIP6.String(), 15020), 0},
		{"inbound HBONE port", v4, in(podIP.String(), 15008), 0},
	}
	for _, c := range cases {
		if got := evalNAT(t, c.tb, c.p); got != c.want {
			t.Errorf("%s: redirected to %d, want %d", c.name, got, c.want)
		}
	}
}

func TestOutboundIncludesAndExcludes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OutboundIncludeCIDRs = CIDRSet{Prefixes: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}}
	cfg.OutboundExcludeCIDRs = []netip.Prefix{netip.MustParsePrefix("10.96.5.0/24"), netip.MustParsePrefix("fd00::/8")}
	cfg.OutboundExcludePorts = []uint16{5432}
	cfg.OutboundIncludePorts = []uint16{9000}
	cfg.InboundIncludePorts = PortSet{}
	v4, v6 := table(t, cfg, IPv4), table(t, cfg, IPv6)
	for _, c := range []struct {
		name string
		tb   Table
		p    packet
		want uint16
	}{
		{"included range", v4, out(app, app, "10.100.0.1", 80), 15001},
		{"outside the included range", v4, out(app, app, "192.168.0.1", 80), 0},
		{"excluded range inside the included one", v4, out(app, app, "10.96.5.7", 80), 0},
		{"excluded port inside the included range", v4, out(app, app, "10.100.0.1", 5432), 0},
		{"included port outside the included range", v4, out(app, app, "192.168.0.1", 9000), 15001},
		{"included port in an excluded range", v4, out(app, app, "10.96.5.7", 9000), 0},
		{"IPv6 excluded range", v6, out(app, app, "fd01::1", 9000), 0},
		{"IPv6 with only IPv4 ranges included", v6, out(app, app, "2001:db8::1", 80), 0},
		{"IPv6 included port", v6, out(app, app, "2001:db8::1", 9000), 15001},
		{"no inbound capture", v4, in(podIP.String(), 8080), 0},
		{"proxy to the pod IP still goes inbound", v4, out(proxy, proxy, podIP.String(), 8080), 15006},
	} {
		if got := evalNAT(t, c.tb, c.p); got != c.want {
			t.Errorf("%s: redirected to %d, want %d", c.name, got, c.want)
		}
	}
}

func TestIncludedLoopbackIsCaptured(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OutboundIncludeCIDRs = CIDRSet{Prefixes: []netip.Prefix{netip.MustParsePrefix("127.1.2.3/32")}}
	v4 := table(t, cfg, IPv4)
	if got := evalNAT(t, v4, out(app, app, "127.1.2.3", 80)); got != 15001 {
		t.Errorf("app to an included loopback address: redirected to %d, want 15001", got)
	}
	if got := evalNAT(t, v4, out(app, app, "127.0.0.1", 80)); got != 0 {
		t.Errorf("app to 127.0.0.1: redirected to %d, want 0", got)
	}
}

func TestInboundIncludedPorts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.InboundIncludePorts = PortSet{Ports: []uint16{9080, 15021}}
	cfg.InboundExcludePorts = []uint16{9080} // ignored with a port list, as Istio
	v4 := table(t, cfg, IPv4)
	for port, want := range map[uint16]uint16{9080: 15006, 15021: 15006, 8080: 0} {
		if got := evalNAT(t, v4, in(podIP.String(), port)); got != want {
			t.Errorf("inbound port %d: redirected to %d, want %d", port, got, want)
		}
	}
}

func TestDNSCapture(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RedirectDNS = true
	cfg.DNSServers = []netip.Addr{netip.MustParseAddr("10.96.0.10"), netip.MustParseAddr("fd00:96::a")}
	v4, v6 := table(t, cfg, IPv4), table(t, cfg, IPv6)
	udp := func(p packet) packet { p.proto = "udp"; return p }
	for _, c := range []struct {
		name string
		tb   Table
		p    packet
		want uint16
	}{
		{"app UDP DNS to the resolver", v4, udp(out(app, app, "10.96.0.10", 53)), 15053},
		{"app TCP DNS to the resolver", v4, out(app, app, "10.96.0.10", 53), 15053},
		{"app IPv6 UDP DNS to the resolver", v6, udp(out(app, app, "fd00:96::a", 53)), 15053},
		{"app DNS to another server (not in resolv.conf)", v4, udp(out(app, app, "8.8.8.8", 53)), 0},
		{"app TCP DNS to another server goes to Envoy", v4, out(app, app, "8.8.8.8", 53), 15001},
		{"proxy UDP DNS upstream", v4, udp(out(proxy, proxy, "10.96.0.10", 53)), 0},
		{"proxy TCP DNS upstream", v4, out(proxy, proxy, "10.96.0.10", 53), 0},
		{"app UDP DNS to a resolver on localhost", v4, udp(out(app, app, "127.0.0.53", 53)), 0},
	} {
		if got := evalNAT(t, c.tb, c.p); got != c.want {
			t.Errorf("%s: redirected to %d, want %d", c.name, got, c.want)
		}
	}
	cfg.CaptureAllDNS = true
	all := table(t, cfg, IPv4)
	if got := evalNAT(t, all, udp(out(app, app, "8.8.8.8", 53))); got != 15053 {
		t.Errorf("capture-all-dns: app UDP DNS to 8.8.8.8 redirected to %d, want 15053", got)
	}
}

func TestFamiliesOnlyHoldTheirAddresses(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OutboundIncludeCIDRs = CIDRSet{Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	cfg.OutboundExcludeCIDRs = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00:1::/32")}
	cfg.RedirectDNS = true
	cfg.DNSServers = []netip.Addr{netip.MustParseAddr("10.96.0.10"), netip.MustParseAddr("fd00:96::a")}
	for _, fam := range []Family{IPv4, IPv6} {
		for _, c := range Build(cfg, fam).Chains {
			for _, r := range c.Rules {
				for _, p := range []netip.Prefix{r.Src, r.Dst} {
					if p.IsValid() && !fam.has(p.Addr()) {
						t.Errorf("%s table chain %s holds %s", fam, c.Name, p)
					}
				}
				if _, err := ruleExprs(fam, r); err != nil {
					t.Errorf("%s chain %s rule %q does not compile: %v", fam, c.Name, RenderRule(fam, r), err)
				}
			}
		}
	}
}
