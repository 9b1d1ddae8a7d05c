package translate

// Small Envoy builders shared by the sidecar and gateway listeners.

import (
	"fmt"
	"net/netip"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	httpinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/http_inspector/v3"
	originaldstv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/original_dst/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"loom.dev/loom/pkg/model"
)

// Well-known names of Envoy extensions used in listeners.
const (
	originalDstFilterName   = "envoy.filters.listener.original_dst"
	tlsInspectorFilterName  = "envoy.filters.listener.tls_inspector"
	httpInspectorFilterName = "envoy.filters.listener.http_inspector"
	hcmFilterName           = "envoy.filters.network.http_connection_manager"
	tcpProxyFilterName      = "envoy.filters.network.tcp_proxy"
	tlsTransportSocketName  = "envoy.transport_sockets.tls"
)

// sniffedProtocols are the application protocols Envoy's http_inspector
// reports for plaintext HTTP; Istio matches on them to sniff UNKNOWN ports.
var sniffedProtocols = []string{"http/1.0", "http/1.1", "h2c"}

// anyOf packs m into an Any. Marshaling is deterministic so equal configs
// give equal bytes, which keeps xDS versions stable. Marshaling fails only on
// invalid UTF-8, which inputs decoded from Kubernetes JSON cannot contain.
func anyOf(m proto.Message) *anypb.Any {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", m, err))
	}
	return &anypb.Any{TypeUrl: "type.googleapis.com/" + string(m.ProtoReflect().Descriptor().FullName()), Value: b}
}

func viaADS() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

// sdsSecret refers to an SDS secret served over the ADS stream.
func sdsSecret(name string) *tlsv3.SdsSecretConfig {
	return &tlsv3.SdsSecretConfig{Name: name, SdsConfig: viaADS()}
}

func socketAddress(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       ip,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

// listenerName is Istio's "<address>_<port>".
func listenerName(ip string, port uint32) string {
	return ip + "_" + strconv.FormatUint(uint64(port), 10)
}

// cidrRange turns "10.0.0.0/8" or a bare address into a CidrRange.
func cidrRange(s string) (*corev3.CidrRange, bool) {
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		addr, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return nil, false
		}
		prefix = netip.PrefixFrom(addr, addr.BitLen())
	}
	prefix = prefix.Masked()
	return &corev3.CidrRange{AddressPrefix: prefix.Addr().String(), PrefixLen: wrapperspb.UInt32(uint32(prefix.Bits()))}, true
}

func networkFilter(name string, config proto.Message) *listenerv3.Filter {
	return &listenerv3.Filter{Name: name, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: anyOf(config)}}
}

func listenerFilter(name string, config proto.Message) *listenerv3.ListenerFilter {
	return &listenerv3.ListenerFilter{Name: name, ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: anyOf(config)}}
}

func originalDstFilter() *listenerv3.ListenerFilter {
	return listenerFilter(originalDstFilterName, &originaldstv3.OriginalDst{})
}

func tlsInspectorFilter() *listenerv3.ListenerFilter {
	return listenerFilter(tlsInspectorFilterName, &tlsinspectorv3.TlsInspector{})
}

func httpInspectorFilter() *listenerv3.ListenerFilter {
	return listenerFilter(httpInspectorFilterName, &httpinspectorv3.HttpInspector{})
}

// hcmOptions are what differs between the HTTP connection managers Loom builds.
type hcmOptions struct {
	statPrefix string
	// rds names a route configuration served over ADS; routes is used inline otherwise.
	rds    string
	routes *routev3.RouteConfiguration
	kind   model.ProxyKind
	// gateway: the proxy is the edge, so it sets X-Forwarded-For from the
	// peer address instead of trusting the client's.
	gateway bool
	// authz are the AuthorizationPolicy filters, run before all others.
	authz []*hcmv3.HttpFilter
}

func httpConnectionManager(o hcmOptions) *listenerv3.Filter {
	m := &hcmv3.HttpConnectionManager{
		StatPrefix:  o.statPrefix,
		CodecType:   hcmv3.HttpConnectionManager_AUTO,
		HttpFilters: append(append([]*hcmv3.HttpFilter(nil), o.authz...), httpFilters(o.kind)...),
	}
	if o.rds != "" {
		m.RouteSpecifier = &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{ConfigSource: viaADS(), RouteConfigName: o.rds}}
	} else {
		m.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: o.routes}
	}
	if o.gateway {
		m.UseRemoteAddress = wrapperspb.Bool(true)
	}
	return networkFilter(hcmFilterName, m)
}

// transportSocketTLS terminates TLS on a filter chain.
func transportSocketTLS(ctx *tlsv3.DownstreamTlsContext) *corev3.TransportSocket {
	return &corev3.TransportSocket{Name: tlsTransportSocketName, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: anyOf(ctx)}}
}

// noTimeout is Envoy's "disabled" duration.
func noTimeout() *durationpb.Duration { return durationpb.New(0) }
