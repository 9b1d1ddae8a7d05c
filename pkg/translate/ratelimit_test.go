package translate

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/matching/common_inputs/ssl/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/internal/golden"
	"loom.dev/loom/pkg/model"
)

// rateLimitMesh has httpbin (app=httpbin in foo, HTTP on 8000) and the
// ingress gateway, with the given RateLimitPolicies.
func rateLimitMesh(policies ...*model.RateLimitPolicy) *model.Snapshot {
	svc := fxService("httpbin", "foo", "10.96.0.1", []model.Port{fxPort("http", 8000, model.ProtocolHTTP), fxPort("tcp", 9000, model.ProtocolTCP)}, "10.0.0.1")
	svc.Selector = workloadLabels
	return model.Build(model.Input{
		RootNamespace:     "istio-system",
		Services:          []*model.Service{svc},
		Gateways:          []*model.Gateway{fxGateway("gw", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "*"))},
		RateLimitPolicies: policies,
	})
}

func mkRateLimitPolicy(ns, name string, minute int, spec model.RateLimitPolicySpec) *model.RateLimitPolicy {
	return &model.RateLimitPolicy{Meta: model.Meta{Namespace: ns, Name: name, Created: fxCreated(minute)}, Spec: &spec}
}

func perSecond(n int64) model.RateLimitLimit {
	return model.RateLimitLimit{Requests: n, Unit: model.RateLimitSecond}
}

// hcmChains unpacks the HTTP connection managers of every listener's
// chains, by listener/chain name.
func hcmChains(t testing.TB, res Resources) map[string]*hcmv3.HttpConnectionManager {
	t.Helper()
	out := map[string]*hcmv3.HttpConnectionManager{}
	for _, r := range res[resourcev3.ListenerType] {
		l := r.(*listenerv3.Listener)
		chains := append(slices.Clone(l.GetFilterChains()), l.GetDefaultFilterChain())
		for _, c := range chains {
			for _, f := range c.GetFilters() {
				if f.GetName() != hcmFilterName {
					continue
				}
				hcm := &hcmv3.HttpConnectionManager{}
				if err := f.GetTypedConfig().UnmarshalTo(hcm); err != nil {
					t.Fatal(err)
				}
				out[l.GetName()+"/"+c.GetName()] = hcm
			}
		}
	}
	return out
}

func hcmFilterNames(hcm *hcmv3.HttpConnectionManager) []string {
	var out []string
	for _, f := range hcm.GetHttpFilters() {
		out = append(out, f.GetName())
	}
	return out
}

func isRateLimitFilter(name string) bool {
	return strings.HasPrefix(name, localRateLimitFilterName+".")
}

var goldenRateLimitPolicies = []*model.RateLimitPolicy{
	mkRateLimitPolicy("foo", "global", 0, model.RateLimitPolicySpec{Rules: []model.RateLimitRule{
		{Limit: model.RateLimitLimit{Requests: 100, Unit: model.RateLimitMinute, Burst: 150}},
	}}),
	mkRateLimitPolicy("foo", "api", 1, model.RateLimitPolicySpec{Selector: workloadLabels, Rules: []model.RateLimitRule{
		{
			Limit: perSecond(5),
			Match: &model.RateLimitMatch{Path: &model.StringMatch{Exact: "/api/v1/items"}, Method: "POST",
				Headers: []model.RateLimitHeaderMatch{{Name: "X-Tier", StringMatch: model.StringMatch{Prefix: "free"}}}},
			PerClient: &model.RateLimitClient{Header: "X-User"},
			Response:  model.RateLimitResponse{Status: 503, Headers: []model.HeaderValue{{Name: "Retry-After", Value: "1"}}},
		},
		{Limit: model.RateLimitLimit{Requests: 1000, Unit: model.RateLimitHour}, PerClient: &model.RateLimitClient{SourcePrincipal: true},
			Match: &model.RateLimitMatch{Path: &model.StringMatch{Prefix: "/api/"}}},
		{Limit: perSecond(1), Match: &model.RateLimitMatch{RouteName: "checkout"}},
		{Limit: perSecond(1), Response: model.RateLimitResponse{Status: 499}},
	}}),
	mkRateLimitPolicy("foo", "to-service", 2, model.RateLimitPolicySpec{
		TargetRefs: []model.RateLimitTargetRef{{Kind: "Service", Name: "httpbin"}},
		Rules:      []model.RateLimitRule{{Limit: perSecond(50)}},
	}),
	mkRateLimitPolicy("foo", "other-workload", 3, model.RateLimitPolicySpec{Selector: map[string]string{"app": "other"},
		Rules: []model.RateLimitRule{{Limit: perSecond(1)}}}),
}

// TestRateLimitSidecarGolden records the local rate limit filters of the
// sidecar's inbound HTTP chain and the problems: a reviewer can read them
// against Envoy's local rate limit documentation.
func TestRateLimitSidecarGolden(t *testing.T) {
	res, problems := ForProxy(rateLimitMesh(goldenRateLimitPolicies...), fxSidecarProxy("foo", workloadLabels, "10.0.0.1"))
	validateAll(t, res)
	var filters []any
	for name, hcm := range hcmChains(t, res) {
		if !strings.HasPrefix(name, virtualInboundName+"/") || len(filters) > 0 {
			continue
		}
		for _, f := range hcm.GetHttpFilters() {
			if !isRateLimitFilter(f.GetName()) {
				continue
			}
			cfg := &localratelimitv3.LocalRateLimit{}
			if err := f.GetTypedConfig().UnmarshalTo(cfg); err != nil {
				t.Fatal(err)
			}
			js, err := protojson.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := json.Unmarshal(js, &v); err != nil {
				t.Fatal(err)
			}
			filters = append(filters, map[string]any{"name": f.GetName(), "config": v})
		}
	}
	var msgs []string
	for _, p := range problems {
		if p.Kind == model.KindRateLimitPolicy {
			msgs = append(msgs, p.Error())
		}
	}
	out, err := yaml.Marshal(map[string]any{"httpFilters": filters, "problems": msgs})
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "testdata/ratelimit/sidecar-inbound.golden.yaml", out)
}

// Every inbound HTTP chain of the sidecar runs the rate limit filters after
// authorization (a denied request takes no token) and before the router;
// TCP chains get none.
func TestRateLimitFiltersRunAfterAuthorization(t *testing.T) {
	ap := mkAP(t, "foo", "deny-admin", `{action: DENY, rules: [{to: [{operation: {paths: ["/admin"]}}]}]}`)
	snap := model.Build(model.Input{
		RootNamespace:         "istio-system",
		Services:              rateLimitMesh().Services(),
		AuthorizationPolicies: []*model.AuthorizationPolicy{ap},
		RateLimitPolicies:     goldenRateLimitPolicies[:1],
	})
	res, _ := ForProxy(snap, fxSidecarProxy("foo", workloadLabels, "10.0.0.1"))
	validateAll(t, res)
	inbound := 0
	for name, hcm := range hcmChains(t, res) {
		if !strings.HasPrefix(name, virtualInboundName+"/") {
			continue
		}
		inbound++
		names := hcmFilterNames(hcm)
		limit := slices.Index(names, localRateLimitFilterName+".foo.global.0")
		deny := slices.Index(names, rbacHTTPFilterName+".deny")
		router := slices.Index(names, routerFilterName)
		if limit < 0 || deny < 0 || !(deny < limit && limit < router) {
			t.Errorf("%s: filters %v, want RBAC deny, then the rate limit, then the router", name, names)
		}
	}
	if inbound == 0 {
		t.Fatal("no inbound HTTP chain")
	}
}

func TestRateLimitOnGatewaysOnlyWhenSelected(t *testing.T) {
	gwPolicy := mkRateLimitPolicy("istio-system", "gw", 0, model.RateLimitPolicySpec{
		Selector: map[string]string{"istio": "ingressgateway"}, Rules: []model.RateLimitRule{{Limit: perSecond(7)}}})
	for _, c := range []struct {
		name     string
		policies []*model.RateLimitPolicy
		want     []string
	}{
		{"selected", []*model.RateLimitPolicy{gwPolicy}, []string{localRateLimitFilterName + ".istio-system.gw.0"}},
		{"workload policy only", goldenRateLimitPolicies, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, _ := ForProxy(rateLimitMesh(c.policies...), fxGatewayProxy())
			validateAll(t, res)
			chains := hcmChains(t, res)
			if len(chains) == 0 {
				t.Fatal("gateway has no HTTP connection manager")
			}
			for name, hcm := range chains {
				got := slices.DeleteFunc(hcmFilterNames(hcm), func(n string) bool { return !isRateLimitFilter(n) })
				if !slices.Equal(got, c.want) {
					t.Errorf("%s: rate limit filters %v, want %v", name, got, c.want)
				}
			}
		})
	}
}

func TestRateLimitIsReportedNotEnforcedOnProxylessGRPC(t *testing.T) {
	p := model.Proxy{ID: "grpc~foo", Kind: model.KindGRPC, Namespace: "foo", Labels: workloadLabels, IPs: []string{"10.0.0.1"}}
	res, problems := ForProxy(rateLimitMesh(goldenRateLimitPolicies[0]), p)
	validateAll(t, res)
	for name, hcm := range hcmChains(t, res) {
		for _, n := range hcmFilterNames(hcm) {
			if isRateLimitFilter(n) {
				t.Errorf("%s: gRPC got %s", name, n)
			}
		}
	}
	found := false
	for _, pr := range problems {
		if pr.Kind == model.KindRateLimitPolicy && pr.Meta.Name == "global" && pr.Field == "spec.rules[0]" &&
			strings.Contains(pr.Message, "not enforced on proxyless gRPC") {
			found = true
		}
	}
	if !found {
		t.Errorf("problems %v lack the not-enforced report for foo/global", problems)
	}
}
