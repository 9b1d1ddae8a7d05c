package translate

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	networking "istio.io/api/networking/v1alpha3"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/internal/golden"
	"loom.dev/loom/pkg/model"
)

// shopVirtualService is bound to the ingress gateway for two hosts, with
// the http routes "checkout" (two matches), "checkout.v2" (a different
// route whose name starts like the first's Envoy route names), an unnamed
// one and a catch-all "browse".
func shopVirtualService() *model.VirtualService {
	to := fxHTTPRouteTo("httpbin.foo.svc.cluster.local", 8000)
	prefix := func(name, p string) *networking.HTTPMatchRequest {
		return &networking.HTTPMatchRequest{Name: name, Uri: &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: p}}}
	}
	return fxVirtualService("shop", "istio-system", 0, &networking.VirtualService{
		Hosts:    []string{"shop.example.com", "api.example.com"},
		Gateways: []string{"gw"},
		Http: []*networking.HTTPRoute{
			{Name: "checkout", Match: []*networking.HTTPMatchRequest{prefix("", "/checkout"), prefix("legacy", "/cart/checkout")}, Route: to},
			{Name: "checkout.v2", Match: []*networking.HTTPMatchRequest{prefix("", "/v2/checkout")}, Route: to},
			{Match: []*networking.HTTPMatchRequest{prefix("", "/static")}, Route: to},
			{Name: "browse", Route: to},
		},
	})
}

// routeRateLimitMesh is rateLimitMesh with shopVirtualService.
func routeRateLimitMesh(policies ...*model.RateLimitPolicy) *model.Snapshot {
	base := rateLimitMesh()
	return model.Build(model.Input{
		RootNamespace:     "istio-system",
		Services:          base.Services(),
		Gateways:          []*model.Gateway{fxGateway("gw", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "*"))},
		VirtualServices:   []*model.VirtualService{shopVirtualService()},
		RateLimitPolicies: policies,
	})
}

var gatewaySelector = map[string]string{"istio": "ingressgateway"}

// gatewayRoutePolicy has, for the ingress gateway: rule 0 on route
// "checkout", rule 1 everywhere, rule 2 on "checkout" for POSTs per user,
// rule 3 on a route that does not exist.
var gatewayRoutePolicy = mkRateLimitPolicy("istio-system", "gw-limits", 0, model.RateLimitPolicySpec{Selector: gatewaySelector, Rules: []model.RateLimitRule{
	{Limit: perSecond(10), Match: &model.RateLimitMatch{RouteName: "checkout"}},
	{Limit: perSecond(100)},
	{Limit: perSecond(5), Match: &model.RateLimitMatch{RouteName: "checkout", Method: "POST"}, PerClient: &model.RateLimitClient{Header: "X-User"},
		Response: model.RateLimitResponse{Headers: []model.HeaderValue{{Name: "Retry-After", Value: "1"}}}},
	{Limit: perSecond(1), Match: &model.RateLimitMatch{RouteName: "missing"}},
}})

func gwRule(i int) string {
	return localRateLimitFilterName + ".istio-system.gw-limits." + string(rune('0'+i))
}

// The rules each Envoy route of the gateway enforces: a scoped rule only
// on the routes of the http route it names (not on "checkout.v2", whose
// Envoy route names start alike), the unscoped rule on every route, and
// nothing for the rule naming a route that does not exist.
func TestRateLimitRouteScopedRulesLandOnlyOnTheirRoute(t *testing.T) {
	res, problems := ForProxy(routeRateLimitMesh(gatewayRoutePolicy), fxGatewayProxy())
	validateAll(t, res)
	hcm := onlyHCM(t, res)
	routes := gatewayRoutes(t, res)
	for _, c := range []struct {
		route string
		want  []string
	}{
		{"checkout", []string{gwRule(0), gwRule(1), gwRule(2)}},
		{"checkout.legacy", []string{gwRule(0), gwRule(1), gwRule(2)}},
		{"checkout.v2", []string{gwRule(1)}},
		{"", []string{gwRule(1)}},
		{"browse", []string{gwRule(1)}},
	} {
		t.Run("route "+c.route, func(t *testing.T) {
			found := 0
			for vhost, rs := range routes {
				for _, r := range rs {
					if r.GetName() != c.route {
						continue
					}
					found++
					if got := enforcedRateLimits(t, hcm, r); !slices.Equal(got, c.want) {
						t.Errorf("%s: route %q enforces %v, want %v", vhost, c.route, got, c.want)
					}
				}
			}
			// Each host of the VirtualService has its virtual host.
			if found != 2 {
				t.Errorf("route %q found %d times, want once per host (2)", c.route, found)
			}
		})
	}
	if slices.Contains(hcmFilterNames(hcm), gwRule(3)) {
		t.Errorf("filters %v include the rule whose route does not exist", hcmFilterNames(hcm))
	}
	var got []string
	for _, p := range problems {
		if p.Kind == model.KindRateLimitPolicy {
			got = append(got, p.Error())
		}
	}
	want := []string{`RateLimitPolicy istio-system/gw-limits: spec.rules[3].match.routeName: a gateway of namespace istio-system that the policy selects serves no VirtualService http route named "missing", so the rule limits nothing on it`}
	if !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
}

// A scoped rule's per-route config is what Envoy accepts on a route: a
// token bucket (Envoy refuses a per-route config without one) whose fill
// interval divides the descriptors', and the rule's own bucket in its
// descriptor. Its filter-level config limits nothing.
func TestRateLimitRouteConfigIsAcceptedByEnvoy(t *testing.T) {
	res, _ := ForProxy(routeRateLimitMesh(gatewayRoutePolicy), fxGatewayProxy())
	hcm := onlyHCM(t, res)
	for _, i := range []int{0, 2} {
		level := filterLevelRateLimit(t, hcm, gwRule(i))
		if level.GetFilterEnabled() != nil || level.GetTokenBucket() != nil || len(level.GetDescriptors()) > 0 {
			t.Errorf("rule %d: filter-level config %v, want a disabled filter without buckets", i, level)
		}
	}
	checked := 0
	for _, rs := range gatewayRoutes(t, res) {
		for _, r := range rs {
			for name, a := range r.GetTypedPerFilterConfig() {
				if !isRateLimitFilter(name) {
					continue
				}
				cfg := unpackRateLimit(t, a)
				checked++
				tb := cfg.GetTokenBucket()
				if tb == nil || tb.GetFillInterval().AsDuration() != time.Second {
					t.Fatalf("%s on %q: token bucket %v, want one refilled every second", name, r.GetName(), tb)
				}
				if cfg.GetFilterEnabled().GetDefaultValue().GetNumerator() != 100 || cfg.GetFilterEnforced().GetDefaultValue().GetNumerator() != 100 {
					t.Errorf("%s on %q: not enabled and enforced for every request", name, r.GetName())
				}
				if cfg.GetAlwaysConsumeDefaultTokenBucket().GetValue() {
					t.Errorf("%s on %q: the default bucket is drawn from for requests the rule limits", name, r.GetName())
				}
				for _, d := range cfg.GetDescriptors() {
					if d.GetTokenBucket().GetFillInterval().AsDuration()%tb.GetFillInterval().AsDuration() != 0 {
						t.Errorf("%s: descriptor interval %v is not a multiple of %v", name, d.GetTokenBucket().GetFillInterval().AsDuration(), tb.GetFillInterval().AsDuration())
					}
				}
				if name == gwRule(0) && cfg.GetDescriptors()[0].GetTokenBucket().GetMaxTokens() != 10 {
					t.Errorf("rule 0 on %q: descriptor %v, want the rule's bucket of 10", r.GetName(), cfg.GetDescriptors()[0])
				}
			}
		}
	}
	// Rules 0 and 2 on checkout and checkout.legacy, for both hosts.
	if checked != 8 {
		t.Errorf("%d per-route rate limit configs, want 8", checked)
	}
}

// On a sidecar, inbound requests are not routed by VirtualService routes:
// a scoped rule is reported and gets no filter; an unscoped rule of the
// same policy still applies.
func TestRateLimitRouteScopedRuleOnSidecarIsReported(t *testing.T) {
	policy := mkRateLimitPolicy("foo", "scoped", 0, model.RateLimitPolicySpec{Rules: []model.RateLimitRule{
		{Limit: perSecond(1), Match: &model.RateLimitMatch{RouteName: "checkout"}},
		{Limit: perSecond(2)},
	}})
	res, problems := ForProxy(routeRateLimitMesh(policy), fxSidecarProxy("foo", workloadLabels, "10.0.0.1"))
	validateAll(t, res)
	inbound := 0
	for name, hcm := range hcmChains(t, res) {
		if !strings.HasPrefix(name, virtualInboundName+"/") {
			continue
		}
		inbound++
		got := slices.DeleteFunc(hcmFilterNames(hcm), func(n string) bool { return !isRateLimitFilter(n) })
		if want := []string{localRateLimitFilterName + ".foo.scoped.1"}; !slices.Equal(got, want) {
			t.Errorf("%s: rate limit filters %v, want %v", name, got, want)
		}
	}
	if inbound == 0 {
		t.Fatal("no inbound HTTP chain")
	}
	for _, r := range res[resourcev3.RouteType] {
		for _, vh := range r.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				for name := range rt.GetTypedPerFilterConfig() {
					if isRateLimitFilter(name) {
						t.Errorf("outbound route %q carries %s", rt.GetName(), name)
					}
				}
			}
		}
	}
	found := slices.ContainsFunc(problems, func(p model.Problem) bool {
		return p.Kind == model.KindRateLimitPolicy && p.Meta.Name == "scoped" && p.Field == "spec.rules[0].match.routeName" &&
			strings.Contains(p.Message, `no HTTP route is named "checkout" on sidecars`)
	})
	if !found {
		t.Errorf("problems %v lack the unmatched route name of foo/scoped", problems)
	}
}

// Proxyless gRPC reports a scoped rule as it reports every rule: not
// enforced, at the rule, with no route name problem.
func TestRateLimitRouteScopedRuleOnProxylessGRPC(t *testing.T) {
	policy := mkRateLimitPolicy("foo", "scoped", 0, model.RateLimitPolicySpec{Rules: []model.RateLimitRule{
		{Limit: perSecond(1), Match: &model.RateLimitMatch{RouteName: "checkout"}},
	}})
	p := model.Proxy{ID: "grpc~foo", Kind: model.KindGRPC, Namespace: "foo", Labels: workloadLabels, IPs: []string{"10.0.0.1"}}
	_, problems := ForProxy(routeRateLimitMesh(policy), p)
	var got []string
	for _, pr := range problems {
		if pr.Kind == model.KindRateLimitPolicy {
			got = append(got, pr.Field+": "+pr.Message)
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "spec.rules[0]: not enforced on proxyless gRPC servers") {
		t.Errorf("problems %q, want only the proxyless gRPC report of spec.rules[0]", got)
	}
}

// A route delegated to another VirtualService is named as Istio names it:
// the root route's name, "-", the delegate route's name.
func TestRateLimitRouteNameOfDelegatedRoute(t *testing.T) {
	to := fxHTTPRouteTo("httpbin.foo.svc.cluster.local", 8000)
	root := fxVirtualService("root", "istio-system", 0, &networking.VirtualService{
		Hosts: []string{"shop.example.com"}, Gateways: []string{"gw"},
		Http: []*networking.HTTPRoute{{Name: "orders", Delegate: &networking.Delegate{Name: "leaf", Namespace: "foo"}}},
	})
	leaf := fxVirtualService("leaf", "foo", 1, &networking.VirtualService{Http: []*networking.HTTPRoute{{Name: "create", Route: to}}})
	policy := mkRateLimitPolicy("istio-system", "delegated", 0, model.RateLimitPolicySpec{Selector: gatewaySelector, Rules: []model.RateLimitRule{
		{Limit: perSecond(1), Match: &model.RateLimitMatch{RouteName: "orders-create"}},
		{Limit: perSecond(1), Match: &model.RateLimitMatch{RouteName: "create"}},
	}})
	snap := model.Build(model.Input{
		RootNamespace:     "istio-system",
		Services:          rateLimitMesh().Services(),
		Gateways:          []*model.Gateway{fxGateway("gw", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "*"))},
		VirtualServices:   []*model.VirtualService{root, leaf},
		RateLimitPolicies: []*model.RateLimitPolicy{policy},
	})
	res, problems := ForProxy(snap, fxGatewayProxy())
	validateAll(t, res)
	hcm := onlyHCM(t, res)
	want := []string{localRateLimitFilterName + ".istio-system.delegated.0"}
	var names []string
	for _, rs := range gatewayRoutes(t, res) {
		for _, r := range rs {
			names = append(names, r.GetName())
			if got := enforcedRateLimits(t, hcm, r); !slices.Equal(got, want) {
				t.Errorf("route %q enforces %v, want %v", r.GetName(), got, want)
			}
		}
	}
	if !slices.Equal(names, []string{"orders-create"}) {
		t.Errorf("routes %q, want the delegated route orders-create", names)
	}
	if !slices.ContainsFunc(problems, func(p model.Problem) bool {
		return p.Meta.Name == "delegated" && p.Field == "spec.rules[1].match.routeName"
	}) {
		t.Errorf("problems %v: the delegate's own route name matched", problems)
	}
}

// TestRateLimitGatewayRoutesGolden records the gateway's rate limit filters,
// the per-route configs of one host's routes (the other host's are the
// same) and the problems.
func TestRateLimitGatewayRoutesGolden(t *testing.T) {
	res, problems := ForProxy(routeRateLimitMesh(gatewayRoutePolicy), fxGatewayProxy())
	validateAll(t, res)
	hcm := onlyHCM(t, res)
	var filters []any
	for _, f := range hcm.GetHttpFilters() {
		if isRateLimitFilter(f.GetName()) {
			filters = append(filters, map[string]any{"name": f.GetName(), "config": protoToJSON(t, filterLevelRateLimit(t, hcm, f.GetName()))})
		}
	}
	var routes []any
	const vhost = "http.80/shop.example.com:80"
	for _, r := range gatewayRoutes(t, res)[vhost] {
		perRoute := map[string]any{}
		for name, a := range r.GetTypedPerFilterConfig() {
			if isRateLimitFilter(name) {
				perRoute[name] = protoToJSON(t, unpackRateLimit(t, a))
			}
		}
		routes = append(routes, map[string]any{"route": r.GetName(), "typedPerFilterConfig": perRoute})
	}
	if len(routes) == 0 {
		t.Fatalf("no virtual host %s", vhost)
	}
	var msgs []string
	for _, p := range problems {
		if p.Kind == model.KindRateLimitPolicy {
			msgs = append(msgs, p.Error())
		}
	}
	out, err := yaml.Marshal(map[string]any{"httpFilters": filters, "routes": routes, "problems": msgs})
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "testdata/ratelimit/gateway-routes.golden.yaml", out)
}

// enforcedRateLimits lists the rate limit filters of hcm that limit
// requests on route r, as Envoy picks their config: the route's
// typed_per_filter_config for the filter replaces the filter-level one.
func enforcedRateLimits(t testing.TB, hcm *hcmv3.HttpConnectionManager, r *routev3.Route) []string {
	t.Helper()
	var out []string
	for _, f := range hcm.GetHttpFilters() {
		if !isRateLimitFilter(f.GetName()) {
			continue
		}
		cfg := filterLevelRateLimit(t, hcm, f.GetName())
		if a, ok := r.GetTypedPerFilterConfig()[f.GetName()]; ok {
			cfg = unpackRateLimit(t, a)
		}
		if cfg.GetFilterEnabled().GetDefaultValue().GetNumerator() > 0 && (cfg.GetTokenBucket() != nil || len(cfg.GetDescriptors()) > 0) {
			out = append(out, f.GetName())
		}
	}
	// A per-route config for a filter the chain lacks would be dead config.
	for name := range r.GetTypedPerFilterConfig() {
		if isRateLimitFilter(name) && !slices.Contains(hcmFilterNames(hcm), name) {
			t.Errorf("route %q configures %s, which the connection manager lacks", r.GetName(), name)
		}
	}
	return out
}

func filterLevelRateLimit(t testing.TB, hcm *hcmv3.HttpConnectionManager, name string) *localratelimitv3.LocalRateLimit {
	t.Helper()
	for _, f := range hcm.GetHttpFilters() {
		if f.GetName() == name {
			return unpackRateLimit(t, f.GetTypedConfig())
		}
	}
	t.Fatalf("no filter %s", name)
	return nil
}

func unpackRateLimit(t testing.TB, a *anypb.Any) *localratelimitv3.LocalRateLimit {
	t.Helper()
	cfg := &localratelimitv3.LocalRateLimit{}
	if err := a.UnmarshalTo(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// onlyHCM is the gateway's one HTTP connection manager.
func onlyHCM(t testing.TB, res Resources) *hcmv3.HttpConnectionManager {
	t.Helper()
	chains := hcmChains(t, res)
	if len(chains) != 1 {
		t.Fatalf("%d HTTP connection managers, want 1", len(chains))
	}
	for _, hcm := range chains {
		return hcm
	}
	return nil
}

// gatewayRoutes are the routes of every route configuration, by
// "<route config>/<virtual host>".
func gatewayRoutes(t testing.TB, res Resources) map[string][]*routev3.Route {
	t.Helper()
	out := map[string][]*routev3.Route{}
	for _, r := range res[resourcev3.RouteType] {
		rc := r.(*routev3.RouteConfiguration)
		for _, vh := range rc.GetVirtualHosts() {
			out[rc.GetName()+"/"+vh.GetName()] = vh.GetRoutes()
		}
	}
	if len(out) == 0 {
		t.Fatal("no routes")
	}
	return out
}

func protoToJSON(t testing.TB, m *localratelimitv3.LocalRateLimit) any {
	t.Helper()
	js, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatal(err)
	}
	return v
}
