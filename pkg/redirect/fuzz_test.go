package redirect

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"", "80", "80,443", " 15090 ,15021", "0", "65536", "1,,2", "*", "-1", "+80", "0x50", "８０"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ports, err := ParsePorts("p", s)
		if err != nil {
			if !strings.Contains(err.Error(), "--p ") {
				t.Errorf("error %q does not name the flag", err)
			}
			return
		}
		seen := map[uint16]bool{}
		var parts []string
		for _, p := range ports {
			if p == 0 || seen[p] {
				t.Fatalf("ParsePorts(%q) = %v: zero or duplicate", s, ports)
			}
			seen[p] = true
			parts = append(parts, strconv.Itoa(int(p)))
		}
		again, err := ParsePorts("p", strings.Join(parts, ","))
		if err != nil || len(again) != len(ports) {
			t.Fatalf("reparsing %v: %v, %v", parts, again, err)
		}
	})
}

func FuzzParseCIDRs(f *testing.F) {
	for _, s := range []string{"", "*", "10.0.0.0/8", "10.1.2.3/8,fd00::/8", "10.0.0.1", "::ffff:1.2.3.4/128", "1.2.3.4/33", "fe80::1%eth0/64", ",", "0.0.0.0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseCIDRSet("c", s)
		if err != nil {
			if !strings.Contains(err.Error(), "--c ") {
				t.Errorf("error %q does not name the flag", err)
			}
			return
		}
		for _, p := range set.Prefixes {
			if !p.IsValid() || p != p.Masked() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
				t.Fatalf("ParseCIDRSet(%q) gave %v", s, p)
			}
		}
	})
}

// FuzzFlags feeds arbitrary values to every list flag: either an error
// naming a flag, or a config whose every rule compiles to nftables
// expressions in a table of the right family.
func FuzzFlags(f *testing.F) {
	f.Add("*", "", "*", "", "", "", "1337", false)
	f.Add("10.0.0.0/8,fd00::/8", "10.1.0.0/16", "80,443", "8081", "3306", "7070", "1337,0", true)
	f.Add("127.0.0.1/32", "::1/128", "", "", "", "", "", true)
	f.Fuzz(func(t *testing.T, include, exclude, inPorts, exclIn, exclOut, inclOut, uid string, dns bool) {
		fl := Flags{
			EnvoyPort: "15001", InboundCapturePort: "15006", InterceptionMode: "REDIRECT",
			ServiceCIDR: include, ServiceExcludeCIDR: exclude, InboundPorts: inPorts,
			LocalExcludePorts: exclIn, OutboundPortsExclude: exclOut, OutboundPorts: inclOut,
			ProxyUID: uid, RedirectDNS: dns, CaptureAllDNS: dns,
		}
		cfg, err := fl.Config()
		if err != nil {
			if !strings.Contains(err.Error(), "--") {
				t.Errorf("error %q names no flag", err)
			}
			return
		}
		for _, fam := range []Family{IPv4, IPv6} {
			tb := Build(cfg, fam)
			for _, c := range tb.Chains {
				for _, r := range c.Rules {
					if _, err := ruleExprs(fam, r); err != nil {
						t.Fatalf("%s rule %q: %v", fam, RenderRule(fam, r), err)
					}
					for _, p := range []netip.Prefix{r.Src, r.Dst} {
						if p.IsValid() && !fam.has(p.Addr()) {
							t.Fatalf("%s table holds %s", fam, p)
						}
					}
				}
			}
		}
	})
}
