package translate

import (
	"math"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/validation"
)

const httpProtocolOptionsName = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// applyConnectionPool sets circuit breakers, connection settings and the
// upstream HTTP protocol from the DestinationRule's connectionPool. Like
// Istio, every outbound cluster gets circuit breakers whose limits default
// to 2^32-1 (Istio's documented defaults), not Envoy's 1024.
func (b *clusterBuilder) applyConnectionPool(c *clusterv3.Cluster, port model.Port, pol clusterPolicy) {
	cp, at := pol.connectionPool, pol.connectionPoolAt
	th := &clusterv3.CircuitBreakers_Thresholds{
		MaxConnections:     wrapperspb.UInt32(math.MaxUint32),
		MaxPendingRequests: wrapperspb.UInt32(math.MaxUint32),
		MaxRequests:        wrapperspb.UInt32(math.MaxUint32),
		MaxRetries:         wrapperspb.UInt32(math.MaxUint32),
		TrackRemaining:     true,
	}
	common := &corev3.HttpProtocolOptions{}
	h2 := port.Protocol == model.ProtocolHTTP2 || port.Protocol == model.ProtocolGRPC
	useDownstream := port.Protocol == model.ProtocolUnknown
	h2opts := &corev3.Http2ProtocolOptions{}

	if http := cp.GetHttp(); http != nil {
		hat := at.at(".http")
		b.setLimit(&th.MaxRequests, http.GetHttp2MaxRequests(), hat.at(".http2MaxRequests"))
		b.setLimit(&th.MaxPendingRequests, http.GetHttp1MaxPendingRequests(), hat.at(".http1MaxPendingRequests"))
		b.setLimit(&th.MaxRetries, http.GetMaxRetries(), hat.at(".maxRetries"))
		b.setLimit(&common.MaxRequestsPerConnection, http.GetMaxRequestsPerConnection(), hat.at(".maxRequestsPerConnection"))
		b.setLimit(&h2opts.MaxConcurrentStreams, http.GetMaxConcurrentStreams(), hat.at(".maxConcurrentStreams"))
		common.IdleTimeout = b.duration(http.GetIdleTimeout(), hat.at(".idleTimeout"), validation.Duration)
		if http.GetH2UpgradePolicy() == networking.ConnectionPoolSettings_HTTPSettings_UPGRADE && port.Protocol == model.ProtocolHTTP {
			h2 = true
		}
		useDownstream = useDownstream || http.GetUseClientProtocol()
	}
	if tcp := cp.GetTcp(); tcp != nil {
		tat := at.at(".tcp")
		b.setLimit(&th.MaxConnections, tcp.GetMaxConnections(), tat.at(".maxConnections"))
		if d := b.duration(tcp.GetConnectTimeout(), tat.at(".connectTimeout"), validation.PositiveDuration); d != nil {
			c.ConnectTimeout = d
		}
		common.MaxConnectionDuration = b.duration(tcp.GetMaxConnectionDuration(), tat.at(".maxConnectionDuration"), validation.Duration)
		c.UpstreamConnectionOptions = b.keepalive(tcp.GetTcpKeepalive(), tat.at(".tcpKeepalive"))
	}
	c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{th}}

	// gRPC clients speak HTTP/2 themselves and ignore protocol options.
	if b.grpc() || !port.Protocol.IsHTTP() && port.Protocol != model.ProtocolUnknown {
		return
	}
	opts := &upstreamhttpv3.HttpProtocolOptions{}
	if !proto.Equal(common, &corev3.HttpProtocolOptions{}) {
		opts.CommonHttpProtocolOptions = common
	}
	switch {
	case useDownstream:
		opts.UpstreamProtocolOptions = &upstreamhttpv3.HttpProtocolOptions_UseDownstreamProtocolConfig{
			UseDownstreamProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_UseDownstreamHttpConfig{
				HttpProtocolOptions: &corev3.Http1ProtocolOptions{}, Http2ProtocolOptions: h2opts,
			},
		}
	case h2:
		opts.UpstreamProtocolOptions = &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: h2opts},
		}}
	case opts.CommonHttpProtocolOptions != nil:
		opts.UpstreamProtocolOptions = &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{HttpProtocolOptions: &corev3.Http1ProtocolOptions{}},
		}}
	default:
		return // HTTP/1.1 with Envoy's defaults
	}
	c.TypedExtensionProtocolOptions = map[string]*anypb.Any{httpProtocolOptionsName: anyOf(opts)}
}

// setLimit sets a limit written as an int32 in Istio's API; zero keeps the
// default and negative values are reported.
func (b *clusterBuilder) setLimit(dst **wrapperspb.UInt32Value, v int32, at origin) {
	switch {
	case v < 0:
		b.report(at, "%d must not be negative; using the default", v)
	case v > 0:
		*dst = wrapperspb.UInt32(uint32(v))
	}
}

// duration returns d if check accepts it; otherwise it reports d and
// returns nil so that the default applies.
func (b *clusterBuilder) duration(d *durationpb.Duration, at origin, check func(*durationpb.Duration) error) *durationpb.Duration {
	if err := check(d); err != nil {
		b.report(at, "%v; using the default", err)
		return nil
	}
	return d
}

func (b *clusterBuilder) keepalive(k *networking.ConnectionPoolSettings_TCPSettings_TcpKeepalive, at origin) *clusterv3.UpstreamConnectionOptions {
	if k == nil {
		return nil
	}
	ka := &corev3.TcpKeepalive{}
	if k.GetProbes() > 0 {
		ka.KeepaliveProbes = wrapperspb.UInt32(k.GetProbes())
	}
	ka.KeepaliveTime = b.seconds(k.GetTime(), at.at(".time"))
	ka.KeepaliveInterval = b.seconds(k.GetInterval(), at.at(".interval"))
	return &clusterv3.UpstreamConnectionOptions{TcpKeepalive: ka}
}

// seconds converts a keepalive duration to the whole seconds the kernel
// option takes.
func (b *clusterBuilder) seconds(d *durationpb.Duration, at origin) *wrapperspb.UInt32Value {
	if d == nil {
		return nil
	}
	if err := validation.Duration(d); err != nil || d.GetSeconds() < 1 || d.GetSeconds() > math.MaxUint32 {
		b.report(at, "%v is not between 1s and 2^32-1 seconds; using the system default", d.AsDuration())
		return nil
	}
	return wrapperspb.UInt32(uint32(d.GetSeconds()))
}
