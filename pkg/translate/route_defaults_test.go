package translate

import (
	"slices"
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// meshDefaults are mesh route defaults that differ from Istio's in every field.
var meshDefaults = model.RouteDefaults{
	Timeout: durationpb.New(5 * time.Second),
	Retries: &networking.HTTPRetry{Attempts: 4, RetryOn: "5xx,409", PerTryTimeout: durationpb.New(time.Second)},
}

// reviewsRoute translates the virtual host of reviews:9080 for a gRPC
// client with the given mesh defaults and returns its first route.
func reviewsRoute(t *testing.T, defaults model.RouteDefaults, vs, dr string) (*routev3.Route, []model.Problem) {
	t.Helper()
	in := model.Input{Services: mkMesh(), RouteDefaults: defaults}
	if vs != "" {
		in.VirtualServices = []*model.VirtualService{mkVS(t, "default", "vs", vs)}
	}
	if dr != "" {
		in.DestinationRules = []*model.DestinationRule{mkDR(t, "default", "reviews", dr)}
	}
	snap := model.Build(in)
	svc := snap.ServiceFor("default", reviewsHost)
	vh, problems := meshVirtualHost(snap, mkClient("default"), svc, svc.Ports[0], []string{reviewsHost})
	validateAll(t, Resources{"routes": {&routev3.RouteConfiguration{Name: "r", VirtualHosts: []*routev3.VirtualHost{vh}}}})
	if len(vh.GetRoutes()) == 0 {
		t.Fatalf("no route; problems %v", problems)
	}
	return vh.GetRoutes()[0], problems
}

// istioDefaultRetry is Istio's policy for a route without retries (istio/istio
// pilot/pkg/networking/core/route/retry): no 503 since Istio 1.24.
func istioDefaultRetry(previousHosts bool) *routev3.RetryPolicy {
	p := &routev3.RetryPolicy{
		NumRetries:                    wrapperspb.UInt32(2),
		RetryOn:                       "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
		HostSelectionRetryMaxAttempts: 5,
	}
	if previousHosts {
		p.RetryHostPredicate = []*routev3.RetryPolicy_RetryHostPredicate{previousHostsPredicate()}
	}
	return p
}

func meshDefaultRetry() *routev3.RetryPolicy {
	p := istioDefaultRetry(true)
	p.NumRetries = wrapperspb.UInt32(4)
	p.RetryOn = "5xx,retriable-status-codes"
	p.RetriableStatusCodes = []uint32{409}
	p.PerTryTimeout = durationpb.New(time.Second)
	return p
}

func TestRouteDefaults(t *testing.T) {
	const singleRoute = `
hosts: [reviews]
http:
- route: [{destination: {host: reviews}}]`
	for _, tc := range []struct {
		name        string
		defaults    model.RouteDefaults
		vs, dr      string
		wantTimeout time.Duration
		wantRetry   *routev3.RetryPolicy // nil: no retries
	}{
		{name: "Istio's defaults without a VirtualService", wantRetry: istioDefaultRetry(true)},
		{name: "Istio's defaults on a route without timeout or retries", vs: singleRoute, wantRetry: istioDefaultRetry(true)},
		{name: "mesh defaults without a VirtualService", defaults: meshDefaults, wantTimeout: 5 * time.Second, wantRetry: meshDefaultRetry()},
		{name: "mesh defaults on a route without timeout or retries", defaults: meshDefaults, vs: singleRoute, wantTimeout: 5 * time.Second, wantRetry: meshDefaultRetry()},
		{name: "route-level timeout and retries win, the retries as a whole", defaults: meshDefaults, vs: `
hosts: [reviews]
http:
- timeout: 2s
  retries: {attempts: 1}
  route: [{destination: {host: reviews}}]`, wantTimeout: 2 * time.Second, wantRetry: func() *routev3.RetryPolicy {
			p := istioDefaultRetry(true)
			p.NumRetries = wrapperspb.UInt32(1)
			return p
		}()},
		{name: "route-level timeout 0s disables the default", defaults: meshDefaults, vs: `
hosts: [reviews]
http:
- timeout: 0s
  route: [{destination: {host: reviews}}]`, wantRetry: meshDefaultRetry()},
		{name: "route-level attempts 0 disables the default retries", defaults: meshDefaults, vs: `
hosts: [reviews]
http:
- retries: {attempts: 0}
  route: [{destination: {host: reviews}}]`, wantTimeout: 5 * time.Second},
		{name: "mesh default attempts 0 disables retries", defaults: model.RouteDefaults{Retries: &networking.HTTPRetry{}}, vs: singleRoute},
		{name: "mesh default attempts 0 leaves a route's own retries", defaults: model.RouteDefaults{Retries: &networking.HTTPRetry{}}, vs: `
hosts: [reviews]
http:
- retries: {attempts: 3, retryOn: unavailable}
  route: [{destination: {host: reviews}}]`, wantRetry: func() *routev3.RetryPolicy {
			p := istioDefaultRetry(true)
			p.NumRetries = wrapperspb.UInt32(3)
			p.RetryOn = "unavailable"
			return p
		}()},
		{name: "mesh default timeout 0s is no timeout", defaults: model.RouteDefaults{Timeout: durationpb.New(0)}, vs: singleRoute, wantRetry: istioDefaultRetry(true)},
		{name: "a single destination's consistent hash drops previous_hosts", vs: singleRoute,
			dr: `{host: reviews, trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}}`, wantRetry: istioDefaultRetry(false)},
		{name: "the default route keeps previous_hosts with a consistent hash, as in Istio",
			dr: `{host: reviews, trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}}`, wantRetry: istioDefaultRetry(true)},
		{name: "weighted destinations keep previous_hosts with a consistent hash, as in Istio", vs: `
hosts: [reviews]
http:
- route: [{destination: {host: reviews, subset: v1}, weight: 50}, {destination: {host: reviews, subset: v2}, weight: 50}]`,
			dr:        `{host: reviews, trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}`,
			wantRetry: istioDefaultRetry(true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, problems := reviewsRoute(t, tc.defaults, tc.vs, tc.dr)
			if len(problems) > 0 {
				t.Errorf("unexpected problems %v", problems)
			}
			action := r.GetRoute()
			if got := action.GetTimeout().AsDuration(); got != tc.wantTimeout {
				t.Errorf("timeout %v, want %v", got, tc.wantTimeout)
			}
			// gRPC-Go reads max_stream_duration, not timeout: it carries the same value.
			if got := action.GetMaxStreamDuration().GetMaxStreamDuration().AsDuration(); got != tc.wantTimeout {
				t.Errorf("max_stream_duration %v, want %v", got, tc.wantTimeout)
			}
			if !proto.Equal(action.GetRetryPolicy(), tc.wantRetry) {
				t.Errorf("retry policy\n got %v\nwant %v", action.GetRetryPolicy(), tc.wantRetry)
			}
		})
	}
}

// Sidecars, gateways and proxyless gRPC all get the mesh defaults.
func TestRouteDefaultsApplyToEveryProxyKind(t *testing.T) {
	svc := fxService("reviews", "default", "10.0.0.10", []model.Port{fxPort("http", 9080, model.ProtocolHTTP)}, "10.1.0.1")
	in := model.Input{
		Services:      []*model.Service{svc},
		RouteDefaults: meshDefaults,
		Gateways:      []*model.Gateway{fxGateway("ingress", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "bookinfo.example.com"))},
		VirtualServices: []*model.VirtualService{fxVirtualService("bookinfo", "default", 0, &networking.VirtualService{
			Hosts: []string{"bookinfo.example.com"}, Gateways: []string{gwName},
			Http: []*networking.HTTPRoute{{Route: fxHTTPRouteTo("reviews", 9080)}},
		})},
	}
	snap := model.Build(in)
	for _, p := range []model.Proxy{fxSidecarProxy("default", map[string]string{"app": "web"}, "10.1.9.9"), fxGatewayProxy(), mkClient("default")} {
		res, problems := ForProxy(snap, p)
		validateAll(t, res)
		if len(problems) > 0 {
			t.Errorf("%s: unexpected problems %v", p.Kind, problems)
		}
		found := 0
		for _, r := range res[resourcev3.RouteType] {
			for _, vh := range r.(*routev3.RouteConfiguration).GetVirtualHosts() {
				for _, route := range vh.GetRoutes() {
					if !strings.Contains(route.GetRoute().GetCluster(), "reviews.default") {
						continue
					}
					found++
					if route.GetRoute().GetTimeout().AsDuration() != 5*time.Second || !proto.Equal(route.GetRoute().GetRetryPolicy(), meshDefaultRetry()) {
						t.Errorf("%s: route %s in %s has timeout %v and retries %v, want the mesh defaults", p.Kind, route.GetName(), vh.GetName(),
							route.GetRoute().GetTimeout().AsDuration(), route.GetRoute().GetRetryPolicy())
					}
				}
			}
		}
		if found == 0 {
			t.Errorf("%s: no route to reviews", p.Kind)
		}
	}
}

// Invalid mesh defaults never drop routes: each is reported against its
// mesh config field and Istio's default applies instead.
func TestInvalidRouteDefaultsAreReportedAndNotApplied(t *testing.T) {
	bad := model.RouteDefaults{
		Timeout: durationpb.New(-time.Second),
		Retries: &networking.HTTPRetry{Attempts: 3, RetryOn: "5xx,sometimes"},
	}
	r, problems := reviewsRoute(t, bad, `
hosts: [reviews]
http:
- route: [{destination: {host: reviews}}]`, "")
	if r.GetRoute().GetTimeout().AsDuration() != 0 || !proto.Equal(r.GetRoute().GetRetryPolicy(), istioDefaultRetry(true)) {
		t.Errorf("timeout %v, retries %v; want Istio's defaults", r.GetRoute().GetTimeout().AsDuration(), r.GetRoute().GetRetryPolicy())
	}
	for _, field := range []string{"defaultTimeout", "defaultRetries.retryOn"} {
		if !hasProblem(problems, kindMeshConfig, "/", field) {
			t.Errorf("no problem names MeshConfig %s: %v", field, problems)
		}
	}
	err := CheckRouteDefaults(bad)
	if err == nil || !strings.Contains(err.Error(), "defaultTimeout: must not be negative") || !strings.Contains(err.Error(), `defaultRetries.retryOn: ["sometimes"]`) {
		t.Errorf("CheckRouteDefaults = %v, want both fields named", err)
	}
	for _, ok := range []model.RouteDefaults{{}, meshDefaults, {Timeout: durationpb.New(0), Retries: &networking.HTTPRetry{}}} {
		if err := CheckRouteDefaults(ok); err != nil {
			t.Errorf("CheckRouteDefaults(%v) = %v", ok, err)
		}
	}
	if err := CheckRouteDefaults(model.RouteDefaults{Retries: &networking.HTTPRetry{Attempts: 2, PerTryTimeout: durationpb.New(0)}}); err == nil || !strings.Contains(err.Error(), "defaultRetries.perTryTimeout") {
		t.Errorf("a zero perTryTimeout: %v", err)
	}
}

func TestParseRetryOnFollowsIstio(t *testing.T) {
	for _, tc := range []struct {
		in, conditions string
		codes          []uint32
		unknown        []string
	}{
		{in: "5xx,gateway-error", conditions: "5xx,gateway-error"},
		{in: "unavailable, 503 ,409", conditions: "unavailable,retriable-status-codes", codes: []uint32{503, 409}},
		{in: "retriable-status-codes,503", conditions: "retriable-status-codes", codes: []uint32{503}},
		{in: "5xx,sometimes,,999", conditions: "5xx", unknown: []string{"sometimes", "999"}},
	} {
		conditions, codes, unknown := parseRetryOn(tc.in)
		if conditions != tc.conditions || !slices.Equal(codes, tc.codes) || !slices.Equal(unknown, tc.unknown) {
			t.Errorf("parseRetryOn(%q) = %q %v %v, want %q %v %v", tc.in, conditions, codes, unknown, tc.conditions, tc.codes, tc.unknown)
		}
	}
}
