package translate

import (
	"strings"
	"testing"

	rbacpb "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"

	"loom.dev/loom/pkg/model"
)

var workloadLabels = map[string]string{"app": "httpbin"}

// The AuthorizationPolicy examples of Istio's documentation (reference and
// security concepts pages) applied unmodified to a workload in foo, plus
// the bad input the issue names; each golden holds the RBAC filters every
// context gets and the problems reported.
func TestAuthzConformance(t *testing.T) {
	cases := []struct {
		name, ns, spec string
	}{
		{"allow-nothing", "foo", `{}`},
		{"deny-all", "foo", `
action: DENY
rules:
- {}`},
		{"allow-all", "foo", `
rules:
- {}`},
		{"allow-by-principal", "foo", `
selector:
  matchLabels:
    app: httpbin
action: ALLOW
rules:
- from:
  - source:
      principals: ["cluster.local/ns/default/sa/sleep"]
  - source:
      namespaces: ["test"]
  to:
  - operation:
      methods: ["GET"]
      paths: ["/info*"]
  - operation:
      methods: ["POST"]
      paths: ["/data"]
  when:
  - key: request.auth.claims[iss]
    values: ["https://accounts.google.com"]`},
		{"deny-by-path", "foo", `
action: DENY
rules:
- to:
  - operation:
      paths: ["/headers"]`},
		{"deny-by-namespace", "foo", `
action: DENY
rules:
- from:
  - source:
      notNamespaces: ["foo"]`},
		{"deny-post-from-dev", "foo", `
action: DENY
rules:
- from:
  - source:
      namespaces: ["dev"]
  to:
  - operation:
      methods: ["POST"]`},
		{"ipblocks", "foo", `
action: ALLOW
rules:
- from:
  - source:
      ipBlocks: ["1.2.3.4", "5.6.7.0/24"]
      notRemoteIpBlocks: ["5.6.7.8"]`},
		{"jwt-required-except-healthz", "foo", `
action: DENY
rules:
- from:
  - source:
      notRequestPrincipals: ["*"]
  to:
  - operation:
      notPaths: ["/healthz"]`},
		{"allow-request-principal", "foo", `
action: ALLOW
rules:
- from:
  - source:
      requestPrincipals: ["issuer.example.com/subject"]`},
		{"path-templates", "foo", `
action: ALLOW
rules:
- to:
  - operation:
      paths: ["/foo/{*}/bar/{**}"]
      ports: ["8080"]`},
		{"deny-path-template", "foo", `
action: DENY
rules:
- to:
  - operation:
      paths: ["/admin/{**}"]`},
		{"audit", "foo", `
action: AUDIT
rules:
- to:
  - operation:
      paths: ["/user/profile/*"]`},
		{"custom", "foo", `
action: CUSTOM
provider:
  name: my-ext-authz
rules:
- to:
  - operation:
      paths: ["/admin/*"]`},
		{"when-conditions", "foo", `
action: DENY
rules:
- when:
  - key: request.headers[version]
    values: ["v1", "v2*"]
  - key: source.ip
    notValues: ["10.0.0.0/8"]
  - key: destination.port
    values: ["9080"]
  - key: connection.sni
    values: ["*.example.com"]
  - key: request.auth.audiences
    values: ["aud"]
  - key: experimental.envoy.filters.network.mysql_proxy[db.table]
    values: ["[update]"]`},
		{"grpc-header-deny", "foo", `
action: DENY
rules:
- when:
  - key: request.headers[grpc-timeout]
    values: ["*"]`},
		{"invalid-cidr-deny", "foo", `
action: DENY
rules:
- from:
  - source:
      ipBlocks: ["10.0.0.0/33"]
- to:
  - operation:
      paths: ["/ok"]`},
		{"invalid-cidr-allow", "foo", `
action: ALLOW
rules:
- from:
  - source:
      ipBlocks: ["not-an-ip"]
- to:
  - operation:
      methods: ["GET"]`},
		{"unknown-when-key-deny", "foo", `
action: DENY
rules:
- when:
  - key: request.colour
    values: ["blue"]`},
		{"bad-path-template-deny", "foo", `
action: DENY
rules:
- to:
  - operation:
      paths: ["/a/{**}/b/{*}"]`},
		{"wildcard-inside-value", "foo", `
action: DENY
rules:
- from:
  - source:
      principals: ["cluster.local/ns/*/sa/admin"]
  to:
  - operation:
      paths: ["/api/*/admin"]`},
		{"deny-without-rules", "foo", `
action: DENY`},
		{"mesh-wide-root-namespace", "istio-system", `
action: DENY
rules:
- from:
  - source:
      principals: ["*/ns/evil/sa/*"]`},
		{"root-namespace-selector", "istio-system", `
selector:
  matchLabels:
    app: httpbin
action: ALLOW
rules:
- from:
  - source:
      principals: ["cluster.local/ns/foo/sa/*"]`},
		{"other-namespace", "bar", `
action: DENY
rules:
- {}`},
		{"selector-not-matching", "foo", `
selector:
  matchLabels:
    app: other
action: DENY
rules:
- {}`},
		{"target-ref-service", "foo", `
targetRefs:
- kind: Service
  group: ""
  name: httpbin
action: DENY
rules:
- to:
  - operation:
      paths: ["/admin"]`},
		{"target-ref-gateway", "foo", `
targetRef:
  kind: Gateway
  group: gateway.networking.k8s.io
  name: waypoint
action: DENY
rules:
- {}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := fxService("httpbin", "foo", "10.96.0.1", []model.Port{fxPort("http", 8000, model.ProtocolHTTP)}, "10.0.0.1")
			svc.Selector = workloadLabels
			snap := model.Build(model.Input{
				RootNamespace:         "istio-system",
				TrustDomain:           "example.org",
				Services:              []*model.Service{svc},
				AuthorizationPolicies: []*model.AuthorizationPolicy{mkAP(t, tc.ns, tc.name, tc.spec)},
			})
			assertAuthzGolden(t, tc.name, authzOutcomeFor(t, snap, "foo", workloadLabels))
		})
	}
}

// engines unpacks the RBAC configs of a filter list, by filter name suffix.
func httpEngines(t *testing.T, a inboundAuthz) map[string]*rbacpb.RBAC {
	t.Helper()
	out := map[string]*rbacpb.RBAC{}
	for _, f := range a.http {
		var cfg rbachttpv3.RBAC
		if err := f.GetTypedConfig().UnmarshalTo(&cfg); err != nil {
			t.Fatal(err)
		}
		out[f.Name[strings.LastIndex(f.Name, ".")+1:]] = cfg.GetRules()
	}
	return out
}

func authzSnap(t *testing.T, policies ...*model.AuthorizationPolicy) *model.Snapshot {
	return model.Build(model.Input{RootNamespace: "istio-system", AuthorizationPolicies: policies})
}

// Istio's evaluation order and defaults, engine by engine.
func TestAuthzSemantics(t *testing.T) {
	t.Run("no policy, no filter", func(t *testing.T) {
		o := authzOutcomeFor(t, authzSnap(t), "foo", workloadLabels)
		if len(o.sidecar.http)+len(o.sidecar.network)+len(o.grpc.http) != 0 {
			t.Errorf("filters without a policy: %+v", o)
		}
	})
	t.Run("order audit, deny (with custom without a provider), allow", func(t *testing.T) {
		snap := authzSnap(t,
			mkAP(t, "foo", "a", "rules: [{}]"),
			mkAP(t, "foo", "d", "action: DENY\nrules: [{}]"),
			mkAP(t, "foo", "c", "action: CUSTOM\nprovider: {name: x}\nrules: [{}]"),
			mkAP(t, "foo", "l", "action: AUDIT\nrules: [{}]"))
		o := authzOutcomeFor(t, snap, "foo", workloadLabels)
		var names []string
		for _, f := range o.sidecar.http {
			names = append(names, f.Name)
		}
		if got := strings.Join(names, ","); got != "envoy.filters.http.rbac.audit,envoy.filters.http.rbac.deny,envoy.filters.http.rbac.allow" {
			t.Errorf("filters %s", got)
		}
		deny := httpEngines(t, o.sidecar)["deny"]
		if deny.GetAction() != rbacpb.RBAC_DENY || deny.Policies["istio-ext-authz-ns[foo]-policy[c]-rule[0]"] == nil || deny.Policies["ns[foo]-policy[d]-rule[0]"] == nil {
			t.Errorf("deny engine %v", deny)
		}
		if httpEngines(t, o.sidecar)["audit"].GetAction() != rbacpb.RBAC_LOG {
			t.Error("audit is not a LOG engine")
		}
		if _, ok := httpEngines(t, o.grpc)["audit"]; ok {
			t.Error("gRPC got a LOG engine, which it ignores")
		}
	})
	t.Run("ALLOW rule with HTTP fields allows nothing on TCP", func(t *testing.T) {
		snap := authzSnap(t, mkAP(t, "foo", "a", "rules: [{to: [{operation: {methods: [GET]}}]}]"))
		o := authzOutcomeFor(t, snap, "foo", workloadLabels)
		if len(o.sidecar.network) != 1 {
			t.Fatalf("network filters %d", len(o.sidecar.network))
		}
		if p := httpEngines(t, o.sidecar)["allow"].Policies; len(p) != 1 {
			t.Errorf("HTTP allow engine lost the rule: %v", p)
		}
		if !hasAuthzProblem(o.problems, "spec.rules[0].to[0].operation.methods", "allows nothing on TCP traffic") {
			t.Errorf("problems %v", o.problems)
		}
	})
	t.Run("invalid DENY denies everything", func(t *testing.T) {
		snap := authzSnap(t, mkAP(t, "foo", "d", "action: DENY\nrules: [{from: [{source: {ipBlocks: [bad]}}]}]"))
		o := authzOutcomeFor(t, snap, "foo", workloadLabels)
		p := httpEngines(t, o.sidecar)["deny"].Policies["ns[foo]-policy[d]-rule[0]"]
		if p.GetPermissions()[0].GetAny() != true || p.GetPrincipals()[0].GetAny() != true {
			t.Errorf("invalid DENY rule is %v, want match all", p)
		}
		if !hasAuthzProblem(o.problems, "spec.rules[0].from[0].source.ipBlocks", "denies every request") {
			t.Errorf("problems %v", o.problems)
		}
	})
	t.Run("gRPC path template: DENY widens, ALLOW drops", func(t *testing.T) {
		snap := authzSnap(t,
			mkAP(t, "foo", "d", "action: DENY\nrules: [{to: [{operation: {paths: ['/a/{*}'], methods: [POST]}}]}]"),
			mkAP(t, "foo", "a", "rules: [{to: [{operation: {paths: ['/b/{**}']}}]}]"))
		o := authzOutcomeFor(t, snap, "foo", workloadLabels)
		g := httpEngines(t, o.grpc)
		if len(g["allow"].Policies) != 0 {
			t.Errorf("gRPC ALLOW kept a rule it cannot evaluate: %v", g["allow"].Policies)
		}
		d := g["deny"].Policies["ns[foo]-policy[d]-rule[0]"]
		if strings.Contains(d.String(), "uri_template") || !strings.Contains(d.String(), "POST") {
			t.Errorf("gRPC DENY rule %v: want the template left out and the method kept", d)
		}
		if len(httpEngines(t, o.sidecar)["allow"].Policies) != 1 {
			t.Error("Envoy lost the template rule")
		}
	})
	t.Run("principal trust domain alias", func(t *testing.T) {
		snap := model.Build(model.Input{RootNamespace: "istio-system", TrustDomain: "example.org",
			AuthorizationPolicies: []*model.AuthorizationPolicy{mkAP(t, "foo", "a", "rules: [{from: [{source: {principals: [cluster.local/ns/a/sa/b]}}]}]")}})
		o := authzOutcomeFor(t, snap, "foo", workloadLabels)
		if s := httpEngines(t, o.sidecar)["allow"].String(); !strings.Contains(s, "spiffe://example.org/ns/a/sa/b") {
			t.Errorf("allow engine %s", s)
		}
	})
}

func hasAuthzProblem(ps []model.Problem, field, text string) bool {
	for _, p := range ps {
		if p.Field == field && strings.Contains(p.Message, text) {
			return true
		}
	}
	return false
}
