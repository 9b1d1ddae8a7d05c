package translate

import (
	"math"
	"regexp"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// grpcClientFilters are the HTTP filters gRPC-Go v1.85 implements on the
// client side (it NACKs others unless optional); router must come last.
var grpcClientFilters = map[string]bool{
	"type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault": true,
	"type.googleapis.com/envoy.extensions.filters.http.router.v3.Router":   true,
}

// checkGRPCRoutes applies the rules gRPC-Go's LDS and RDS parsing enforces
// beyond the proto schema (xdsresource/unmarshal_lds.go, unmarshal_rds.go).
func checkGRPCRoutes(t *testing.T, res Resources) {
	t.Helper()
	filterNames := map[string]bool{}
	for _, r := range res[resourcev3.ListenerType] {
		l := r.(*listenerv3.Listener)
		if l.GetApiListener() == nil {
			continue // server listeners are checked by the end-to-end test
		}
		hcm := &hcmv3.HttpConnectionManager{}
		if err := l.GetApiListener().GetApiListener().UnmarshalTo(hcm); err != nil {
			t.Fatalf("listener %s: %v", l.Name, err)
		}
		if hcm.GetRds().GetConfigSource().GetAds() == nil || hcm.GetRds().GetRouteConfigName() == "" {
			t.Errorf("listener %s: gRPC needs RDS over ADS", l.Name)
		}
		filters := hcm.GetHttpFilters()
		for i, f := range filters {
			filterNames[f.GetName()] = true
			if !grpcClientFilters[f.GetTypedConfig().GetTypeUrl()] && !f.GetIsOptional() {
				t.Errorf("listener %s: gRPC NACKs filter %s", l.Name, f.GetTypedConfig().GetTypeUrl())
			}
			if last := i == len(filters)-1; last != (f.GetName() == routerFilterName) {
				t.Errorf("listener %s: the router filter must be last and only last", l.Name)
			}
		}
	}
	for _, r := range res[resourcev3.RouteType] {
		for _, vh := range r.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				checkGRPCRoute(t, vh.GetName(), rt, filterNames)
			}
		}
	}
}

func checkGRPCRoute(t *testing.T, vhost string, rt *routev3.Route, filterNames map[string]bool) {
	t.Helper()
	m := rt.GetMatch()
	if m.GetPathSpecifier() == nil {
		t.Errorf("%s route %q: gRPC needs a path specifier", vhost, rt.GetName())
	}
	regexes := []string{m.GetSafeRegex().GetRegex()}
	for _, h := range m.GetHeaders() {
		//nolint:staticcheck // the deprecated matcher must not be used either
		regexes = append(regexes, h.GetSafeRegexMatch().GetRegex(), h.GetStringMatch().GetSafeRegex().GetRegex())
	}
	for _, re := range regexes {
		if _, err := regexp.Compile(re); err != nil {
			t.Errorf("%s route %q: gRPC NACKs regex %q: %v", vhost, rt.GetName(), re, err)
		}
	}
	for name := range rt.GetTypedPerFilterConfig() {
		if !filterNames[name] {
			t.Errorf("%s route %q: per-filter config for %s, which is not in gRPC's filter chain", vhost, rt.GetName(), name)
		}
	}
	action := rt.GetRoute()
	if wc := action.GetWeightedClusters(); wc != nil {
		var total uint64
		for _, c := range wc.GetClusters() {
			total += uint64(c.GetWeight().GetValue())
		}
		if total == 0 || total > math.MaxUint32 {
			t.Errorf("%s route %q: gRPC NACKs total weight %d", vhost, rt.GetName(), total)
		}
	}
	if rp := action.GetRetryPolicy(); rp != nil {
		if rp.GetNumRetries() != nil && rp.GetNumRetries().GetValue() < 1 {
			t.Errorf("%s route %q: gRPC NACKs num_retries 0", vhost, rt.GetName())
		}
		if b := rp.GetRetryBackOff(); b != nil && b.GetBaseInterval().AsDuration() <= 0 {
			t.Errorf("%s route %q: gRPC NACKs a non-positive retry base interval", vhost, rt.GetName())
		}
	}
}
