package translate

import (
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"loom.dev/loom/pkg/model"
)

// HTTP filter names; typed_per_filter_config entries of routes are keyed by
// them.
const (
	faultFilterName  = "envoy.filters.http.fault"
	corsFilterName   = "envoy.filters.http.cors"
	routerFilterName = "envoy.filters.http.router"
)

// The filters' own configs are empty and the same everywhere: they are
// packed once and shared (resources are never modified once built).
var (
	corsFilterConfig   = anyOf(&corsv3.Cors{})
	faultFilterConfig  = anyOf(&faultv3.HTTPFault{})
	routerFilterConfig = anyOf(&routerv3.Router{})
)

// httpFilters returns the HCM http_filters chain, router last. CORS runs
// before fault injection, as in Istio, so that preflight requests are not
// aborted or delayed. Proxyless gRPC has no CORS filter (and NACKs filters
// it does not know), so its chain is fault and router only.
func httpFilters(kind model.ProxyKind) []*hcmv3.HttpFilter {
	var out []*hcmv3.HttpFilter
	if kind != model.KindGRPC {
		out = append(out, httpFilter(corsFilterName, corsFilterConfig))
	}
	return append(out, httpFilter(faultFilterName, faultFilterConfig), routerFilter())
}

func routerFilter() *hcmv3.HttpFilter {
	return httpFilter(routerFilterName, routerFilterConfig)
}

func httpFilter(name string, config *anypb.Any) *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{Name: name, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: config}}
}
