package translate

import (
	"fmt"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"loom.dev/loom/pkg/model"
)

// applyTelemetry adds the mesh config's access log to every HTTP
// connection manager and TCP proxy of an Envoy proxy's listeners, and its
// tracing (with the collector's cluster) to every HTTP connection manager.
// With both off nothing is touched, so the output stays byte-identical.
func applyTelemetry(t model.Telemetry, res Resources) {
	if !t.Traces() {
		t.Tracing = nil
	}
	if t.AccessLog == nil && t.Tracing == nil {
		return
	}
	traced := false
	// Listeners can share a filter: each is rewritten once.
	done := map[*listenerv3.Filter]bool{}
	for _, r := range res[resourcev3.ListenerType] {
		l, ok := r.(*listenerv3.Listener)
		if !ok {
			continue
		}
		chains := l.GetFilterChains()
		if l.GetDefaultFilterChain() != nil {
			chains = append(chains[:len(chains):len(chains)], l.GetDefaultFilterChain())
		}
		for _, fc := range chains {
			for _, f := range fc.GetFilters() {
				if done[f] {
					continue
				}
				done[f] = true
				if addTelemetry(t, f) && t.Tracing != nil && f.GetName() == hcmFilterName {
					traced = true
				}
			}
		}
	}
	if traced {
		addCollectorCluster(t.Tracing, res)
	}
}

// addTelemetry rewrites one network filter; it reports whether it did.
func addTelemetry(t model.Telemetry, f *listenerv3.Filter) bool {
	typed := f.GetTypedConfig()
	if typed == nil {
		return false
	}
	switch f.GetName() {
	case hcmFilterName:
		var m hcmv3.HttpConnectionManager
		if anypb.UnmarshalTo(typed, &m, proto.UnmarshalOptions{}) != nil {
			return false
		}
		if t.AccessLog != nil {
			m.AccessLog = append(m.AccessLog, fileAccessLog(t.AccessLog))
		}
		if t.Tracing != nil {
			m.Tracing = zipkinTracing(t.Tracing)
		}
		f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: anyOf(&m)}
		return true
	case tcpProxyFilterName:
		if t.AccessLog == nil {
			return false
		}
		var m tcpv3.TcpProxy
		if anypb.UnmarshalTo(typed, &m, proto.UnmarshalOptions{}) != nil {
			return false
		}
		m.AccessLog = append(m.AccessLog, fileAccessLog(t.AccessLog))
		f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: anyOf(&m)}
		return true
	}
	return false
}

// addCollectorCluster adds the collector's cluster unless a cluster of
// that name is already there.
func addCollectorCluster(tr *model.Tracing, res Resources) {
	c := collectorCluster(tr)
	for _, r := range res[resourcev3.ClusterType] {
		if cachev3.GetResourceName(r) == c.GetName() {
			return
		}
	}
	res[resourcev3.ClusterType] = append(res[resourcev3.ClusterType], types.Resource(c))
}

// collectorClusterName names the collector's cluster as Istio names
// outbound clusters.
func collectorClusterName(tr *model.Tracing) string {
	return fmt.Sprintf("outbound|%d||%s", tr.CollectorPort, tr.CollectorHost)
}
