package translate

import (
	"slices"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	extauthzhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	extauthznetv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/ext_authz/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	meshconfig "istio.io/api/mesh/v1alpha1"

	"loom.dev/loom/pkg/model"
)

// istioExtAuthzProviders are the providers of Istio's "External
// Authorization" task (ext-authz sample in foo), plus one setting every
// field Loom takes.
const istioExtAuthzProviders = `
extensionProviders:
- name: sample-ext-authz-grpc
  envoyExtAuthzGrpc:
    service: ext-authz.foo.svc.cluster.local
    port: 9000
- name: sample-ext-authz-http
  envoyExtAuthzHttp:
    service: ext-authz.foo.svc.cluster.local
    port: 8000
    includeRequestHeadersInCheck: ["x-ext-authz"]
- name: full-http
  envoyExtAuthzHttp:
    service: foo/ext-authz.foo.svc.cluster.local
    port: 8000
    timeout: 2s
    pathPrefix: /check
    failOpen: true
    statusOnError: "503"
    includeRequestHeadersInCheck: ["authorization", "x-ext-authz-*", "*-trace"]
    includeAdditionalHeadersInCheck:
      x-ext-authz-source: loom
      x-original-path: "%REQ(:PATH)%"
    headersToUpstreamOnAllow: ["x-user"]
    headersToDownstreamOnDeny: ["www-authenticate", "x-ext-authz-*"]
    headersToDownstreamOnAllow: ["set-cookie"]
    includeRequestBodyInCheck:
      maxRequestBytes: 4096
      allowPartialMessage: true
- name: full-grpc
  envoyExtAuthzGrpc:
    service: ext-authz.foo.svc.cluster.local
    port: 9000
    timeout: 0.5s
    failOpen: true
    statusOnError: "500"
    includeRequestBodyInCheck:
      maxRequestBytes: 1024
      packAsBytes: true
- name: nowhere
  envoyExtAuthzGrpc:
    service: missing.foo.svc.cluster.local
    port: 9000
- name: wrong-port
  envoyExtAuthzHttp:
    service: ext-authz.foo.svc.cluster.local
    port: 7777
- name: bad-status
  envoyExtAuthzHttp:
    service: ext-authz.foo.svc.cluster.local
    port: 8000
    statusOnError: "999"
`

func extAuthzProviders(t testing.TB, src string) []*model.ExtensionProvider {
	return mkSpec(t, src, &meshconfig.MeshConfig{}).GetExtensionProviders()
}

// customSnap has httpbin and the ext-authz sample in foo, the providers
// above and the policies given.
func customSnap(t testing.TB, policies ...*model.AuthorizationPolicy) *model.Snapshot {
	httpbin := fxService("httpbin", "foo", "10.96.0.1", []model.Port{fxPort("http", 8000, model.ProtocolHTTP)}, "10.0.0.1")
	httpbin.Selector = workloadLabels
	authz := fxService("ext-authz", "foo", "10.96.0.9", []model.Port{
		fxPort("http", 8000, model.ProtocolHTTP), fxPort("grpc", 9000, model.ProtocolGRPC)}, "10.0.0.9")
	return model.Build(model.Input{
		RootNamespace:         "istio-system",
		TrustDomain:           "example.org",
		Services:              []*model.Service{httpbin, authz},
		AuthorizationPolicies: policies,
		ExtensionProviders:    extAuthzProviders(t, istioExtAuthzProviders),
	})
}

// CUSTOM policies with usable providers (Istio's documented ext_authz
// example with each of its providers, and every field set) and the ways a
// provider can be unusable, each failing closed.
func TestCustomAuthzConformance(t *testing.T) {
	istioExample := func(provider string) string {
		return `
selector:
  matchLabels:
    app: httpbin
action: CUSTOM
provider:
  name: ` + provider + `
rules:
- to:
  - operation:
      paths: ["/headers"]`
	}
	cases := []struct{ name, spec string }{
		{"custom-istio-example-grpc", istioExample("sample-ext-authz-grpc")},
		{"custom-istio-example-http", istioExample("sample-ext-authz-http")},
		{"custom-full-http", istioExample("full-http")},
		{"custom-full-grpc", `
action: CUSTOM
provider: {name: full-grpc}
rules:
- from:
  - source:
      notNamespaces: ["foo"]
- to:
  - operation:
      ports: ["8000"]
      methods: ["POST"]`},
		{"custom-unknown-service", istioExample("nowhere")},
		{"custom-service-without-port", istioExample("wrong-port")},
		{"custom-bad-status-on-error", istioExample("bad-status")},
		{"custom-invalid-rule", `
action: CUSTOM
provider: {name: sample-ext-authz-grpc}
rules:
- from:
  - source:
      ipBlocks: ["10.0.0.0/33"]
- to:
  - operation:
      paths: ["/ok"]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := customSnap(t, mkAP(t, "foo", tc.name, tc.spec))
			assertAuthzGolden(t, tc.name, authzOutcomeFor(t, snap, "foo", workloadLabels))
		})
	}
}

func filterNames[T interface{ GetName() string }](in []T) string {
	var names []string
	for _, f := range in {
		names = append(names, f.GetName())
	}
	return strings.Join(names, ",")
}

func TestCustomAuthzSemantics(t *testing.T) {
	t.Run("order custom, audit, deny, allow", func(t *testing.T) {
		snap := customSnap(t,
			mkAP(t, "foo", "a", "rules: [{}]"),
			mkAP(t, "foo", "d", "action: DENY\nrules: [{}]"),
			mkAP(t, "foo", "c", "action: CUSTOM\nprovider: {name: sample-ext-authz-grpc}\nrules: [{}]"),
			mkAP(t, "foo", "l", "action: AUDIT\nrules: [{}]"))
		o := authzOutcomeFor(t, snap, "foo", workloadLabels)
		want := "envoy.filters.http.rbac.custom,envoy.filters.http.ext_authz,envoy.filters.http.rbac.audit,envoy.filters.http.rbac.deny,envoy.filters.http.rbac.allow"
		if got := filterNames(o.sidecar.http); got != want {
			t.Errorf("HTTP filters %s, want %s", got, want)
		}
		want = "envoy.filters.network.rbac.custom,envoy.filters.network.ext_authz,envoy.filters.network.rbac.audit,envoy.filters.network.rbac.deny,envoy.filters.network.rbac.allow"
		if got := filterNames(o.sidecar.network); got != want {
			t.Errorf("network filters %s, want %s", got, want)
		}
		var shadow rbachttpv3.RBAC
		if err := o.sidecar.http[0].GetTypedConfig().UnmarshalTo(&shadow); err != nil {
			t.Fatal(err)
		}
		if shadow.GetRules() != nil || shadow.GetShadowRules().GetPolicies()["istio-ext-authz-ns[foo]-policy[c]-rule[0]"] == nil {
			t.Errorf("CUSTOM RBAC filter enforces or lacks the rule: %v", &shadow)
		}
		if _, ok := httpEngines(t, inboundAuthz{http: o.sidecar.http[3:4]})["deny"].Policies["istio-ext-authz-ns[foo]-policy[c]-rule[0]"]; ok {
			t.Error("a CUSTOM rule with a usable authorizer also denies")
		}
	})
	t.Run("the ext_authz filter checks only what the shadow rules match", func(t *testing.T) {
		snap := customSnap(t, mkAP(t, "foo", "c", "action: CUSTOM\nprovider: {name: sample-ext-authz-grpc}\nrules: [{}]"))
		o := authzOutcomeFor(t, snap, "foo", workloadLabels)
		var http extauthzhttpv3.ExtAuthz
		if err := o.sidecar.http[1].GetTypedConfig().UnmarshalTo(&http); err != nil {
			t.Fatal(err)
		}
		m := http.GetFilterEnabledMetadata()
		if m.GetFilter() != "envoy.filters.http.rbac" || m.GetPath()[0].GetKey() != "istio_ext_authz_shadow_effective_policy_id" ||
			m.GetValue().GetStringMatch().GetPrefix() != "istio-ext-authz" {
			t.Errorf("filter_enabled_metadata %v", m)
		}
		if c := http.GetGrpcService().GetEnvoyGrpc().GetClusterName(); c != "outbound|9000||ext-authz.foo.svc.cluster.local" {
			t.Errorf("authorizer cluster %q", c)
		}
		var tcp extauthznetv3.ExtAuthz
		if err := o.sidecar.network[1].GetTypedConfig().UnmarshalTo(&tcp); err != nil {
			t.Fatal(err)
		}
		if tcp.GetFilterEnabledMetadata().GetFilter() != "envoy.filters.network.rbac" {
			t.Errorf("TCP filter_enabled_metadata %v", tcp.GetFilterEnabledMetadata())
		}
	})
	t.Run("the authorizer's cluster exists on the sidecar", func(t *testing.T) {
		snap := customSnap(t, mkAP(t, "foo", "c", "action: CUSTOM\nprovider: {name: sample-ext-authz-http}\nrules: [{}]"))
		res, _ := forSidecar(snap, fxSidecarProxy("foo", workloadLabels, "10.0.0.1"), nil)
		found := false
		for _, c := range res[resourcev3.ClusterType] {
			found = found || c.(*clusterv3.Cluster).GetName() == "outbound|8000||ext-authz.foo.svc.cluster.local"
		}
		if !found {
			t.Error("no cluster outbound|8000||ext-authz.foo.svc.cluster.local")
		}
	})
	t.Run("different providers on one workload fail closed", func(t *testing.T) {
		snap := customSnap(t,
			mkAP(t, "foo", "c1", "action: CUSTOM\nprovider: {name: sample-ext-authz-grpc}\nrules: [{to: [{operation: {paths: [/a]}}]}]"),
			mkAP(t, "foo", "c2", "action: CUSTOM\nprovider: {name: sample-ext-authz-http}\nrules: [{to: [{operation: {paths: [/b]}}]}]"))
		o := authzOutcomeFor(t, snap, "foo", workloadLabels)
		if got := filterNames(o.sidecar.http); got != "envoy.filters.http.rbac.deny" {
			t.Fatalf("HTTP filters %s", got)
		}
		deny := httpEngines(t, o.sidecar)["deny"].Policies
		if deny["istio-ext-authz-ns[foo]-policy[c1]-rule[0]"] == nil || deny["istio-ext-authz-ns[foo]-policy[c2]-rule[0]"] == nil {
			t.Errorf("deny engine %v", deny)
		}
		for _, name := range []string{"c1", "c2"} {
			if !hasCustomProblem(o.problems, name, `must all name the same provider (Istio's rule), found "sample-ext-authz-grpc", "sample-ext-authz-http"`) {
				t.Errorf("no problem on %s: %v", name, o.problems)
			}
		}
	})
	t.Run("unknown provider fails closed", func(t *testing.T) {
		snap := customSnap(t, mkAP(t, "foo", "c", "action: CUSTOM\nprovider: {name: typo}\nrules: [{}]"))
		o := authzOutcomeFor(t, snap, "foo", workloadLabels)
		p := httpEngines(t, o.sidecar)["deny"].Policies["istio-ext-authz-ns[foo]-policy[c]-rule[0]"]
		if p.GetPermissions()[0].GetAndRules().GetRules()[0].GetAny() != true {
			t.Errorf("unknown provider: rule %v, want the CUSTOM rule (all requests) denied", p)
		}
		if !hasCustomProblem(o.problems, "c", `provider "typo" is not in the mesh config's extensionProviders`) {
			t.Errorf("problems %v", o.problems)
		}
	})
	t.Run("HTTP authorizer skips TCP, as Istio", func(t *testing.T) {
		snap := customSnap(t, mkAP(t, "foo", "c", "action: CUSTOM\nprovider: {name: sample-ext-authz-http}\nrules: [{}]"))
		o := authzOutcomeFor(t, snap, "foo", workloadLabels)
		if len(o.sidecar.network) != 0 {
			t.Errorf("network filters %s", filterNames(o.sidecar.network))
		}
		if !hasCustomProblem(o.problems, "c", "not enforced on TCP traffic") {
			t.Errorf("problems %v", o.problems)
		}
	})
	t.Run("proxyless gRPC denies what CUSTOM matches", func(t *testing.T) {
		snap := customSnap(t, mkAP(t, "foo", "c", "action: CUSTOM\nprovider: {name: sample-ext-authz-grpc}\nrules: [{to: [{operation: {paths: [/admin]}}]}]"))
		o := authzOutcomeFor(t, snap, "foo", workloadLabels)
		if got := filterNames(o.grpc.http); got != "envoy.filters.http.rbac.deny" {
			t.Fatalf("gRPC filters %s", got)
		}
		if httpEngines(t, o.grpc)["deny"].Policies["istio-ext-authz-ns[foo]-policy[c]-rule[0]"] == nil {
			t.Error("gRPC does not deny the CUSTOM rule")
		}
		if !hasCustomProblem(o.problems, "c", "gRPC-Go has no ext_authz") {
			t.Errorf("problems %v", o.problems)
		}
	})
	t.Run("gateway resolves the authorizer among its services", func(t *testing.T) {
		snap := customSnap(t, mkAP(t, "istio-system", "c", "selector: {matchLabels: {istio: ingressgateway}}\naction: CUSTOM\nprovider: {name: sample-ext-authz-grpc}\nrules: [{}]"))
		out, problems := authzFor(snap, fxGatewayProxy())
		if got := filterNames(out.http); !strings.HasPrefix(got, "envoy.filters.http.rbac.custom,envoy.filters.http.ext_authz") {
			t.Errorf("gateway HTTP filters %s; problems %v", got, problems)
		}
	})
}

func hasCustomProblem(ps []model.Problem, policy, text string) bool {
	for _, p := range ps {
		if p.Meta.Name == policy && p.Field == "spec.provider.name" && strings.Contains(p.Message, text) {
			return true
		}
	}
	return false
}

func TestCheckExtensionProvider(t *testing.T) {
	cases := []struct{ name, src, wantErr string }{
		{"http ok", `{name: a, envoyExtAuthzHttp: {service: x.ns.svc.cluster.local, port: 80}}`, ""},
		{"grpc namespaced ok", `{name: a, envoyExtAuthzGrpc: {service: ns/x.ns.svc.cluster.local, port: 9000}}`, ""},
		{"no name", `{envoyExtAuthzHttp: {service: x, port: 80}}`, "name is empty"},
		{"no kind", `{name: a}`, "exactly one of envoyExtAuthzHttp and envoyExtAuthzGrpc"},
		{"other kind", `{name: a, zipkin: {service: z, port: 9411}}`, "exactly one of envoyExtAuthzHttp and envoyExtAuthzGrpc"},
		{"port 0", `{name: a, envoyExtAuthzGrpc: {service: x, port: 0}}`, `"a": port: 0 is not from 1 to 65535`},
		{"port too big", `{name: a, envoyExtAuthzGrpc: {service: x, port: 65536}}`, "65536 is not from 1 to 65535"},
		{"empty service", `{name: a, envoyExtAuthzGrpc: {port: 9000}}`, "service"},
		{"two slashes", `{name: a, envoyExtAuthzGrpc: {service: a/b/c, port: 9000}}`, `"a/b/c" is not`},
		{"wildcard", `{name: a, envoyExtAuthzGrpc: {service: "*.example.com", port: 9000}}`, "is not"},
		{"status not a number", `{name: a, envoyExtAuthzHttp: {service: x, port: 80, statusOnError: abc}}`, "statusOnError"},
		{"status unknown", `{name: a, envoyExtAuthzGrpc: {service: x, port: 80, statusOnError: "999"}}`, "999 is not an HTTP status"},
		{"path prefix", `{name: a, envoyExtAuthzHttp: {service: x, port: 80, pathPrefix: check}}`, "pathPrefix"},
		{"negative timeout", `{name: a, envoyExtAuthzHttp: {service: x, port: 80, timeout: -1s}}`, "not a valid Envoy ext_authz config"},
		{"bad header key", `{name: a, envoyExtAuthzHttp: {service: x, port: 80, includeAdditionalHeadersInCheck: {"": v}}}`, "not a valid Envoy ext_authz config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckExtensionProvider(mkSpec(t, tc.src, &meshconfig.MeshConfig_ExtensionProvider{}))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestResolveAuthorizer(t *testing.T) {
	svc := fxService("ext-authz", "foo", "10.96.0.9", []model.Port{fxPort("grpc", 9000, model.ProtocolGRPC)})
	services := []*model.Service{svc}
	for _, tc := range []struct{ service, cluster, wantErr string }{
		{"ext-authz.foo.svc.cluster.local", "outbound|9000||ext-authz.foo.svc.cluster.local", ""},
		{"foo/ext-authz.foo.svc.cluster.local", "outbound|9000||ext-authz.foo.svc.cluster.local", ""},
		{"bar/ext-authz.foo.svc.cluster.local", "", "not a service this proxy has a cluster for"},
		{"ext-authz", "", "not a service this proxy has a cluster for"},
	} {
		_, cluster, err := resolveAuthorizer(services, tc.service, 9000)
		if cluster != tc.cluster || (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: cluster %q, error %v", tc.service, cluster, err)
		}
	}
	if _, _, err := resolveAuthorizer(services, "ext-authz.foo.svc.cluster.local", 8000); err == nil || !strings.Contains(err.Error(), "has no port 8000") {
		t.Errorf("missing port: %v", err)
	}
}

// On whole proxies, every inbound chain of a sidecar and gateway puts the
// CUSTOM filters first (a gRPC authorizer checks TCP chains too), and the
// authorizer's cluster is among the proxy's clusters.
func TestCustomAuthzOnProxies(t *testing.T) {
	custom := mkAP(t, "istio-system", "ext", "action: CUSTOM\nprovider: {name: grpc-authz}\nrules: [{to: [{operation: {paths: [/admin]}}]}]")
	snap := authzMesh(t, custom)
	for _, p := range []model.Proxy{fxSidecarProxy("foo", workloadLabels, "10.0.0.1"), fxGatewayProxy()} {
		t.Run(string(p.Kind), func(t *testing.T) {
			res, problems := ForProxy(snap, p)
			validateAll(t, res)
			checked := 0
			for chain, filters := range chainFilters(t, res) {
				joined := strings.Join(filters, ",")
				if !strings.Contains(joined, "rbac") {
					continue
				}
				checked++
				want := []string{"http:" + rbacHTTPFilterName + ".custom", "http:" + extAuthzHTTPFilterName}
				if !strings.Contains(joined, "http:") {
					want = []string{rbacNetworkFilterName + ".custom", extAuthzNetworkFilterName}
				}
				first := slices.IndexFunc(filters, func(f string) bool { return strings.Contains(f, "rbac") || strings.Contains(f, "ext_authz") })
				if first+2 > len(filters) || !slices.Equal(filters[first:first+2], want) {
					t.Errorf("%s: filters %v, want %v first", chain, filters, want)
				}
			}
			if checked == 0 {
				t.Errorf("no chain checked; problems %v", problems)
			}
			found := false
			for _, c := range res[resourcev3.ClusterType] {
				found = found || c.(*clusterv3.Cluster).GetName() == "outbound|9000||httpbin.foo.svc.cluster.local"
			}
			if !found {
				t.Error("the authorizer's cluster is missing")
			}
		})
	}
}
