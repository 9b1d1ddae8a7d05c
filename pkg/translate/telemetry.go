package translate

import (
	"fmt"
	"maps"
	"slices"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
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

// applyTelemetry adds proxy p's merged telemetry (Telemetry objects and
// the mesh config) to its listeners. Extension providers that send to a
// service use the proxy's outbound cluster of it; one the proxy has no
// cluster for is left out and reported.
func applyTelemetry(snap *model.Snapshot, p model.Proxy, res Resources) []model.Problem {
	return applyMergedTelemetry(snap, p, snap.TelemetryFor(p), res)
}

// applyMergedTelemetry is applyTelemetry with p's merged telemetry pt already known.
func applyMergedTelemetry(snap *model.Snapshot, p model.Proxy, pt model.ProxyTelemetry, res Resources) []model.Problem {
	if pt.Client.Empty() && pt.Server.Empty() {
		return nil
	}
	pt, targets, problems := resolveTelemetryProviders(pt, servicesFor(snap, p))
	applyProxyTelemetry(pt, proxyTelemetryContext{targets: targets, serviceName: tracingServiceName(p), gateway: p.Kind == model.KindGateway}, res)
	return problems
}

// proxyTelemetryContext is what the extension providers' Envoy config
// needs of the proxy.
type proxyTelemetryContext struct {
	targets     map[*model.ExtensionProvider]providerTarget
	serviceName string
	gateway     bool
}

// applyProxyTelemetry adds a proxy's access logs to every HTTP connection
// manager and TCP proxy of its listeners, and its tracing (with the
// collector's cluster) to every HTTP connection manager: the Server side
// on inbound listeners, the Client side on the others (outbound and
// gateway listeners, as Istio's CLIENT mode covers gateways). With nothing
// to add nothing is touched, so the output stays byte-identical.
func applyProxyTelemetry(pt model.ProxyTelemetry, ctx proxyTelemetryContext, res Resources) {
	if pt.Client.Empty() && pt.Server.Empty() {
		return
	}
	collectors := map[string]model.Tracing{}
	// Listeners can share a filter: each is rewritten once.
	done := map[*listenerv3.Filter]bool{}
	for _, r := range res[resourcev3.ListenerType] {
		l, ok := r.(*listenerv3.Listener)
		if !ok {
			continue
		}
		dt := pt.Client
		if l.GetTrafficDirection() == corev3.TrafficDirection_INBOUND {
			dt = pt.Server
		}
		if dt.Empty() {
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
				if addTelemetry(dt, ctx, f) && dt.Tracing != nil && dt.Tracing.Ext == nil && f.GetName() == hcmFilterName {
					collectors[collectorClusterName(&dt.Tracing.Collector)] = dt.Tracing.Collector
				}
			}
		}
	}
	for _, c := range slices.Sorted(maps.Keys(collectors)) {
		tr := collectors[c]
		addCollectorCluster(&tr, res)
	}
}

// addTelemetry rewrites one network filter; it reports whether it did.
func addTelemetry(dt model.DirectionTelemetry, ctx proxyTelemetryContext, f *listenerv3.Filter) bool {
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
		for _, a := range dt.AccessLogs {
			m.AccessLog = append(m.AccessLog, providerAccessLog(a, ctx))
		}
		switch {
		case dt.Tracing != nil && dt.Tracing.Ext != nil:
			m.Tracing = extensionTracing(dt.Tracing, ctx.targets[dt.Tracing.Ext], ctx.serviceName, ctx.gateway)
		case dt.Tracing != nil:
			m.Tracing = zipkinTracing(dt.Tracing)
		}
		f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: anyOf(&m)}
		return true
	case tcpProxyFilterName:
		if len(dt.AccessLogs) == 0 {
			return false
		}
		var m tcpv3.TcpProxy
		if anypb.UnmarshalTo(typed, &m, proto.UnmarshalOptions{}) != nil {
			return false
		}
		for _, a := range dt.AccessLogs {
			m.AccessLog = append(m.AccessLog, providerAccessLog(a, ctx))
		}
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
