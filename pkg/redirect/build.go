package redirect

import "net/netip"

// Chain names, as Istio's.
const (
	ChainPrerouting     = "PREROUTING"
	ChainOutput         = "OUTPUT"
	ChainRawOutput      = "RAW_OUTPUT"
	ChainRawPrerouting  = "RAW_PREROUTING"
	ChainInbound        = "ISTIO_INBOUND"
	ChainRedirect       = "ISTIO_REDIRECT"
	ChainInRedirect     = "ISTIO_IN_REDIRECT"
	ChainIstioOutput    = "ISTIO_OUTPUT"
	ChainIstioOutputDNS = "ISTIO_OUTPUT_DNS"
)

const (
	natPriority = -100 // NF_IP_PRI_NAT_DST, where iptables' nat table sits
	rawPriority = -300 // NF_IP_PRI_RAW, before conntrack
	dnsPort     = 53
)

// familyAddrs are the per-family addresses Istio's rules name.
type familyAddrs struct {
	localhost   netip.Prefix // 127.0.0.1/32, ::1/128
	passthrough netip.Prefix // source of Envoy's inbound passthrough: 127.0.0.6/32, ::6/128
}

func addrsOf(f Family) familyAddrs {
	if f == IPv6 {
		return familyAddrs{netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("::6/128")}
	}
	return familyAddrs{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("127.0.0.6/32")}
}

func (f Family) has(a netip.Addr) bool { return a.Is4() == (f == IPv4) }

// Build returns Loom's table for one family: Istio's istio-iptables rules
// in REDIRECT mode for cfg, in Istio's order. cfg must be valid.
func Build(cfg Config, fam Family) Table {
	b := &builder{cfg: cfg, fam: fam, addrs: addrsOf(fam), chains: map[string]*Chain{}}
	b.build()
	t := Table{Family: fam, Name: TableName}
	for _, name := range b.order {
		t.Chains = append(t.Chains, *b.chains[name])
	}
	return t
}

// BuildAll returns the IPv4 table and, when ipv6, the IPv6 table.
func BuildAll(cfg Config, ipv6 bool) []Table {
	tables := []Table{Build(cfg, IPv4)}
	if ipv6 {
		tables = append(tables, Build(cfg, IPv6))
	}
	return tables
}

type builder struct {
	cfg    Config
	fam    Family
	addrs  familyAddrs
	chains map[string]*Chain
	order  []string
}

func (b *builder) chain(name string, hook *Hook) *Chain {
	if c, ok := b.chains[name]; ok {
		return c
	}
	c := &Chain{Name: name, Hook: hook}
	b.chains[name] = c
	b.order = append(b.order, name)
	return c
}

func (b *builder) add(chain string, r Rule) {
	c := b.chains[chain]
	c.Rules = append(c.Rules, r)
}

func jump(chain string) Verdict      { return Verdict{Kind: Jump, Chain: chain} }
func redirectTo(port uint16) Verdict { return Verdict{Kind: Redirect, Port: port} }
func ctZone(zone uint16) Verdict     { return Verdict{Kind: SetCTZone, Zone: zone} }
func id(v uint32) *uint32            { return &v }

func (b *builder) build() {
	cfg := b.cfg
	b.chain(ChainPrerouting, &Hook{Type: "nat", Hook: "prerouting", Priority: natPriority})
	b.chain(ChainOutput, &Hook{Type: "nat", Hook: "output", Priority: natPriority})
	b.chain(ChainInbound, nil)
	b.chain(ChainRedirect, nil)
	b.chain(ChainInRedirect, nil)
	b.chain(ChainIstioOutput, nil)
	if cfg.RedirectDNS {
		b.chain(ChainIstioOutputDNS, nil)
	}

	b.add(ChainInbound, Rule{L4Proto: "tcp", DPort: InboundTunnelPort, Verdict: Verdict{Kind: Return}})
	b.add(ChainRedirect, Rule{L4Proto: "tcp", Verdict: redirectTo(cfg.ProxyPort)})
	b.add(ChainInRedirect, Rule{L4Proto: "tcp", Verdict: redirectTo(cfg.InboundCapturePort)})
	b.inbound()
	b.add(ChainOutput, Rule{Verdict: jump(ChainIstioOutput)})
	b.outbound()
	if cfg.RedirectDNS {
		b.dns()
	}
}

// inbound: TCP arriving for the pod goes to the inbound capture port,
// except the excluded ports (or only the included ones).
func (b *builder) inbound() {
	in := b.cfg.InboundIncludePorts
	if !in.All && len(in.Ports) == 0 {
		return
	}
	b.add(ChainPrerouting, Rule{L4Proto: "tcp", Verdict: jump(ChainInbound)})
	if in.All {
		var excluded []uint16
		for _, p := range append(append([]uint16{}, AlwaysExcludedInboundPorts...), b.cfg.InboundExcludePorts...) {
			excluded = appendPort(excluded, p)
		}
		for _, p := range excluded {
			b.add(ChainInbound, Rule{L4Proto: "tcp", DPort: p, Verdict: Verdict{Kind: Return}})
		}
		b.add(ChainInbound, Rule{L4Proto: "tcp", Verdict: jump(ChainInRedirect)})
		return
	}
	for _, p := range in.Ports {
		b.add(ChainInbound, Rule{L4Proto: "tcp", DPort: p, Verdict: jump(ChainInRedirect)})
	}
}

func (b *builder) includesLoopback() bool {
	for _, p := range b.cfg.OutboundIncludeCIDRs.Prefixes {
		if p.Addr().IsLoopback() {
			return true
		}
	}
	return false
}

// outbound is Istio's ISTIO_OUTPUT chain.
func (b *builder) outbound() {
	cfg, a, ret := b.cfg, b.addrs, Verdict{Kind: Return}
	for _, p := range cfg.OutboundExcludePorts {
		b.add(ChainIstioOutput, Rule{L4Proto: "tcp", DPort: p, Verdict: ret})
		b.add(ChainIstioOutput, Rule{L4Proto: "udp", DPort: p, Verdict: ret})
	}
	// Envoy's inbound passthrough connects to the app from 127.0.0.6.
	b.add(ChainIstioOutput, Rule{OIF: "lo", Src: a.passthrough, Verdict: ret})

	keepLoopback := !b.includesLoopback()
	owner := func(uid bool, v uint32, not bool, r Rule) Rule {
		if uid {
			r.UID, r.UIDNot = id(v), not
		} else {
			r.GID, r.GIDNot = id(v), not
		}
		return r
	}
	each := func(uid bool, ids []uint32) {
		for _, v := range ids {
			// The proxy calling its own pod's address (an app calling its
			// own Service VIP through Envoy) goes to the inbound listener.
			notPorts := []uint16{InboundTunnelPort}
			if cfg.RedirectDNS && uid {
				notPorts = []uint16{dnsPort, InboundTunnelPort}
			}
			b.add(ChainIstioOutput, owner(uid, v, false, Rule{OIF: "lo", Dst: a.localhost, DstNot: true,
				L4Proto: "tcp", DPortNot: notPorts, Verdict: jump(ChainInRedirect)}))
			// Anyone else talking over lo (app to itself by pod IP) is left
			// alone, unless loopback addresses are explicitly captured.
			if keepLoopback {
				r := Rule{OIF: "lo", Verdict: ret}
				if cfg.RedirectDNS {
					r.L4Proto, r.DPortNot = "tcp", []uint16{dnsPort}
				}
				b.add(ChainIstioOutput, owner(uid, v, true, r))
			}
			// The proxy's own traffic is never captured.
			b.add(ChainIstioOutput, owner(uid, v, false, Rule{Verdict: ret}))
		}
	}
	each(true, cfg.ProxyUIDs)
	each(false, cfg.ProxyGIDs)

	if cfg.RedirectDNS {
		b.add(ChainIstioOutput, Rule{Verdict: jump(ChainIstioOutputDNS)})
	}
	b.add(ChainIstioOutput, Rule{Dst: a.localhost, Verdict: ret})
	for _, p := range cfg.OutboundExcludeCIDRs {
		if b.fam.has(p.Addr()) {
			b.add(ChainIstioOutput, Rule{Dst: p, Verdict: ret})
		}
	}
	for _, p := range cfg.OutboundIncludePorts {
		b.add(ChainIstioOutput, Rule{L4Proto: "tcp", DPort: p, Verdict: jump(ChainRedirect)})
	}
	if cfg.OutboundIncludeCIDRs.All {
		b.add(ChainIstioOutput, Rule{Verdict: jump(ChainRedirect)})
		return
	}
	var included bool
	for _, p := range cfg.OutboundIncludeCIDRs.Prefixes {
		if b.fam.has(p.Addr()) {
			b.add(ChainIstioOutput, Rule{Dst: p, Verdict: jump(ChainRedirect)})
			included = true
		}
	}
	if included {
		b.add(ChainIstioOutput, Rule{Verdict: ret})
	}
}

func (b *builder) dnsServers() []netip.Addr {
	var out []netip.Addr
	for _, s := range b.cfg.DNSServers {
		if b.fam.has(s) {
			out = append(out, s)
		}
	}
	return out
}

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// dns captures DNS to the agent (TCP and UDP 53 -> 15053), skipping the
// proxy's own queries, and splits the two UDP legs into conntrack zones 1
// (proxy <-> upstream resolver) and 2 (app <-> agent) as Istio does, so the
// two NATed flows with the same tuple do not race in conntrack.
func (b *builder) dns() {
	cfg, ret := b.cfg, Verdict{Kind: Return}
	servers := b.dnsServers()
	toAgent := func(proto string) {
		if cfg.CaptureAllDNS {
			b.add(ChainIstioOutputDNS, Rule{L4Proto: proto, DPort: dnsPort, Verdict: redirectTo(DNSCapturePort)})
			return
		}
		for _, s := range servers {
			b.add(ChainIstioOutputDNS, Rule{L4Proto: proto, DPort: dnsPort, Dst: hostPrefix(s), Verdict: redirectTo(DNSCapturePort)})
		}
	}
	toAgent("tcp")
	for _, v := range cfg.ProxyUIDs {
		b.add(ChainIstioOutputDNS, Rule{L4Proto: "udp", DPort: dnsPort, UID: id(v), Verdict: ret})
	}
	for _, v := range cfg.ProxyGIDs {
		b.add(ChainIstioOutputDNS, Rule{L4Proto: "udp", DPort: dnsPort, GID: id(v), Verdict: ret})
	}
	toAgent("udp")

	b.chain(ChainRawOutput, &Hook{Type: "filter", Hook: "output", Priority: rawPriority})
	b.chain(ChainRawPrerouting, &Hook{Type: "filter", Hook: "prerouting", Priority: rawPriority})
	for _, v := range cfg.ProxyUIDs {
		b.add(ChainRawOutput, Rule{L4Proto: "udp", DPort: dnsPort, UID: id(v), Verdict: ctZone(1)})
		b.add(ChainRawOutput, Rule{L4Proto: "udp", SPort: DNSCapturePort, UID: id(v), Verdict: ctZone(2)})
	}
	for _, v := range cfg.ProxyGIDs {
		b.add(ChainRawOutput, Rule{L4Proto: "udp", DPort: dnsPort, GID: id(v), Verdict: ctZone(1)})
		b.add(ChainRawOutput, Rule{L4Proto: "udp", SPort: DNSCapturePort, GID: id(v), Verdict: ctZone(2)})
	}
	if cfg.CaptureAllDNS {
		b.add(ChainRawOutput, Rule{L4Proto: "udp", DPort: dnsPort, Verdict: ctZone(2)})
		b.add(ChainRawPrerouting, Rule{L4Proto: "udp", SPort: dnsPort, Verdict: ctZone(1)})
		return
	}
	for _, s := range servers {
		b.add(ChainRawOutput, Rule{L4Proto: "udp", DPort: dnsPort, Dst: hostPrefix(s), Verdict: ctZone(2)})
	}
	for _, s := range servers {
		b.add(ChainRawPrerouting, Rule{L4Proto: "udp", SPort: dnsPort, Src: hostPrefix(s), Verdict: ctZone(1)})
	}
}
