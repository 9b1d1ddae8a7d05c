package translate

import (
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"loom.dev/loom/pkg/model"
)

// FuzzRateLimitPolicy feeds arbitrary RateLimitPolicy specs through the
// sidecar, gateway and gRPC server translation: nothing panics, every
// resource passes validateAll, every valid rule that applies is either
// a filter on each inbound HTTP chain or reported, and every per-route
// rate limit config is one Envoy accepts, for a filter of the chain.
func FuzzRateLimitPolicy(f *testing.F) {
	f.Add(int64(10), "Second", int64(0), "/api", false, "GET", "x-tier", "free", "", false, 0, "retry-after", "1", false, "")
	f.Add(int64(1), "Hour", int64(5), "/exact", true, "", "", "", "x-user", false, 503, "", "", true, "")
	f.Add(int64(0), "Day", int64(-1), "", false, "get", "bad name", "", "", true, 200, "x", "a\nb", false, "")
	f.Add(int64(1<<40), "Minute", int64(1<<33), "/(?", true, "POST", "x", "", "x user", true, 499, ":status", "", false, "")
	f.Add(int64(3), "Minute", int64(0), "/checkout", false, "POST", "", "", "", true, 0, "", "", true, "checkout")
	f.Add(int64(3), "Second", int64(4), "", false, "", "", "", "x-user", false, 503, "", "", true, "checkout.legacy")
	f.Add(int64(3), "Second", int64(0), "", false, "", "", "", "", false, 0, "", "", false, "checkout")
	f.Fuzz(func(t *testing.T, requests int64, unit string, burst int64, path string, exact bool, method, header, headerValue, clientHeader string,
		principal bool, status int, respName, respValue string, gatewaySelector bool, routeName string) {
		rule := model.RateLimitRule{Limit: model.RateLimitLimit{Requests: requests, Unit: model.RateLimitUnit(unit), Burst: burst}}
		if path != "" || method != "" || header != "" {
			m := &model.RateLimitMatch{Method: method}
			if path != "" {
				m.Path = &model.StringMatch{Prefix: path}
				if exact {
					m.Path = &model.StringMatch{Exact: path}
				}
			}
			if header != "" {
				m.Headers = []model.RateLimitHeaderMatch{{Name: header, StringMatch: model.StringMatch{Exact: headerValue}}}
			}
			rule.Match = m
		}
		if routeName != "" {
			if rule.Match == nil {
				rule.Match = &model.RateLimitMatch{}
			}
			rule.Match.RouteName = routeName
		}
		if principal || clientHeader != "" {
			rule.PerClient = &model.RateLimitClient{SourcePrincipal: principal, Header: clientHeader}
		}
		rule.Response.Status = status
		if respName != "" {
			rule.Response.Headers = []model.HeaderValue{{Name: respName, Value: respValue}}
		}
		spec := model.RateLimitPolicySpec{Rules: []model.RateLimitRule{rule, {Limit: perSecond(1)}}}
		if gatewaySelector {
			spec.Selector = map[string]string{"istio": "ingressgateway"}
		}
		ns := "foo"
		if gatewaySelector {
			ns = "istio-system"
		}
		snap := routeRateLimitMesh(mkRateLimitPolicy(ns, "fuzz", 0, spec))
		for _, p := range []model.Proxy{
			fxSidecarProxy("foo", workloadLabels, "10.0.0.1"),
			{ID: "grpc~foo", Kind: model.KindGRPC, Namespace: "foo", Labels: workloadLabels, IPs: []string{"10.0.0.1"}},
			fxGatewayProxy(),
		} {
			res, problems := ForProxy(snap, p)
			validateAll(t, res)
			checkRateLimitRouteConfigs(t, res)
			applied := snap.RateLimitRulesFor(p.Namespace, p.Labels)
			reported := map[string]bool{}
			for _, pr := range problems {
				if pr.Kind == model.KindRateLimitPolicy {
					reported[pr.Field[:len("spec.rules[0]")]] = true
				}
			}
			for name, hcm := range hcmChains(t, res) {
				if p.Kind == model.KindSidecar && !strings.HasPrefix(name, virtualInboundName+"/") {
					continue
				}
				got := 0
				for _, n := range hcmFilterNames(hcm) {
					if isRateLimitFilter(n) {
						got++
					}
				}
				if p.Kind == model.KindGRPC && got > 0 {
					t.Errorf("%s: gRPC got rate limit filters", name)
				}
				if p.Kind == model.KindGRPC {
					continue
				}
				want := 0
				for _, a := range applied {
					if !reported[strings.Replace("spec.rules[i]", "i", string(rune('0'+a.Index)), 1)] {
						want++
					}
				}
				if got < want {
					t.Errorf("%s: %d rate limit filters for %d applied rules that were not reported", name, got, want)
				}
			}
		}
	})
}

// checkRateLimitRouteConfigs checks every per-route rate limit config of
// res: it configures a filter of the proxy's HTTP connection managers and
// has the token bucket Envoy requires of per-route configs.
func checkRateLimitRouteConfigs(t *testing.T, res Resources) {
	filters := map[string]bool{}
	for _, hcm := range hcmChains(t, res) {
		for _, n := range hcmFilterNames(hcm) {
			filters[n] = true
		}
	}
	for _, r := range res[resourcev3.RouteType] {
		for _, vh := range r.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				for name, a := range rt.GetTypedPerFilterConfig() {
					if !isRateLimitFilter(name) {
						continue
					}
					if !filters[name] {
						t.Errorf("route %q configures %s, which no connection manager has", rt.GetName(), name)
					}
					if unpackRateLimit(t, a).GetTokenBucket() == nil {
						t.Errorf("route %q: %s has no token bucket", rt.GetName(), name)
					}
				}
			}
		}
	}
}
