package validation

import (
	"strings"
	"testing"
)

// TestGatewayBoundDomain is Istio's TestValidateWildcardDomainForVirtualServiceBoundToGateway
// (pkg/config/validation/agent), case for case.
func TestGatewayBoundDomain(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		sni      bool
		valid    bool
	}{
		{"empty", "", false, false},
		{"too long", strings.Repeat("x", 256), false, false},
		{"happy", strings.Repeat("x", 63), false, true},
		{"wildcard", "*", false, true},
		{"wildcard multi-segment", "*.bar.com", false, true},
		{"wildcard single segment", "*foo", false, true},
		{"wildcard prefix", "*foo.bar.com", false, true},
		{"wildcard prefix dash", "*-foo.bar.com", false, true},
		{"bad wildcard", "foo.*.com", false, false},
		{"bad wildcard", "foo*.bar.com", false, false},
		{"IP address", "1.1.1.1", false, false},
		{"SNI domain", "outbound_.80_._.e2e.foobar.mesh", true, true},
		{"happy", "outbound.com", true, true},
		{"invalid SNI domain", "neverbound_.80_._.e2e.foobar.mesh", true, false},
		{"invalid SNI domain", "outbound_.thisIsNotAPort_._.e2e.foobar.mesh", true, false},
		{"invalid SNI domain", "outbound_.80_._", true, false},
		// Not in Istio's table: without TLS routes the SNI form is no host name.
		{"SNI domain without SNI", "outbound_.80_._.e2e.foobar.mesh", false, false},
	} {
		t.Run(tc.name+" "+tc.in, func(t *testing.T) {
			err := gatewayBoundDomain(tc.sni, tc.in)
			if (err == nil) != tc.valid {
				t.Errorf("gatewayBoundDomain(%v, %q) = %v, want valid=%v", tc.sni, tc.in, err, tc.valid)
			}
		})
	}
}

// TestSNIHosts: the auto-generated SNI form is a VirtualService host where Istio admits it
// (bound to gateways, with TLS routes matching SNI) and an SNI host of a VirtualService that
// does not name the mesh; a Gateway's servers.hosts never take it (Istio checks them as DNS
// names or IP addresses only).
func TestSNIHosts(t *testing.T) {
	const sni = "outbound_.15010_._.istiod.istio-system.svc.cluster.local"
	runCases(t, "networking.istio.io", "VirtualService", []testCase{
		{name: "istio test: allow sni based domains", spec: `
hosts: [` + sni + `]
gateways: [ns1/gateway]
tls:
- match: [{sniHosts: [` + sni + `]}]
  route: [{destination: {host: istio.istio-system.svc.cluster.local}}]`},
		{name: "istio sample: istiod through the east-west gateway", spec: `
hosts: ["*"]
gateways: [istiod-gateway]
tls:
- match: [{port: 15012, sniHosts: ["*"]}]
  route: [{destination: {host: istiod.istio-system.svc.cluster.local, port: {number: 15012}}}]
- match: [{port: 15017, sniHosts: ["*"]}]
  route: [{destination: {host: istiod.istio-system.svc.cluster.local, port: {number: 443}}}]`},
		{name: "SNI form on the mesh", want: "spec.hosts[0]", spec: `
hosts: [` + sni + `]
tls:
- match: [{sniHosts: [` + sni + `]}]
  route: [{destination: {host: istiod.istio-system.svc.cluster.local}}]`},
		{name: "SNI form with mesh among the gateways", want: "spec.tls[0].match[0].sniHosts[0]", spec: `
hosts: [` + sni + `]
gateways: [mesh, ns1/gateway]
tls:
- match: [{sniHosts: [` + sni + `]}]
  route: [{destination: {host: istiod.istio-system.svc.cluster.local}}]`},
		{name: "SNI form as a host of HTTP routes only", want: "spec.hosts[0]", spec: `
hosts: [` + sni + `]
gateways: [ns1/gateway]
http: [{route: [{destination: {host: istiod.istio-system.svc.cluster.local}}]}]`},
		{name: "SNI form without a port", want: "spec.hosts[0]", spec: `
hosts: [outbound_.http_._.istiod.istio-system.svc.cluster.local]
gateways: [ns1/gateway]
tls:
- match: [{sniHosts: [istiod.istio-system.svc.cluster.local]}]
  route: [{destination: {host: istiod.istio-system.svc.cluster.local}}]`},
		{name: "mesh among the gateways: the wildcard host is the mesh's", want: "spec.hosts[0]", spec: `
hosts: ["*"]
gateways: [mesh, ns1/gateway]
http: [{route: [{destination: {host: reviews}}]}]`},
		{name: "istio test: wildcard for non-mesh gateway", spec: `
hosts: ["*"]
gateways: [somegateway]
http: [{route: [{destination: {host: foo.baz}}]}]`},
	})
	runCases(t, "networking.istio.io", "Gateway", []testCase{
		{name: "istio sample: cross-network gateway (AUTO_PASSTHROUGH)", spec: `
selector: {istio: eastwestgateway}
servers:
- port: {number: 15443, name: tls, protocol: TLS}
  tls: {mode: AUTO_PASSTHROUGH}
  hosts: ["*.local"]`},
		{name: "istio sample: istiod gateway", spec: `
selector: {istio: eastwestgateway}
servers:
- port: {name: tls-istiod, number: 15012, protocol: tls}
  tls: {mode: PASSTHROUGH}
  hosts: ["*"]
- port: {name: tls-istiodwebhook, number: 15017, protocol: tls}
  tls: {mode: PASSTHROUGH}
  hosts: ["*"]`},
		{name: "SNI form in servers.hosts", want: "spec.servers[0].hosts[0]", spec: `
servers:
- port: {number: 15443, name: tls, protocol: TLS}
  tls: {mode: AUTO_PASSTHROUGH}
  hosts: [` + sni + `]`},
		{name: "SNI form in servers.hosts after a namespace", want: "spec.servers[0].hosts[0]", spec: `
servers:
- port: {number: 15443, name: tls, protocol: TLS}
  tls: {mode: AUTO_PASSTHROUGH}
  hosts: [istio-system/` + sni + `]`},
	})
}
