package translate

import (
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"loom.dev/loom/pkg/model"
)

const httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// Istio's default connect timeout for the clusters it builds itself.
var wellKnownConnectTimeout = 10 * time.Second

// blackHoleCluster has no endpoints: connections to it are refused.
func blackHoleCluster() *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 BlackHoleCluster,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(wellKnownConnectTimeout),
		LoadAssignment:       &endpointv3.ClusterLoadAssignment{ClusterName: BlackHoleCluster},
	}
}

// originalDstCluster connects to where the connection was addressed. HTTP
// requests routed to it keep the downstream protocol.
func originalDstCluster(name string) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                          name,
		ClusterDiscoveryType:          &clusterv3.Cluster_Type{Type: clusterv3.Cluster_ORIGINAL_DST},
		LbPolicy:                      clusterv3.Cluster_CLUSTER_PROVIDED,
		ConnectTimeout:                durationpb.New(wellKnownConnectTimeout),
		TypedExtensionProtocolOptions: map[string]*anypb.Any{httpProtocolOptionsKey: anyOf(useDownstreamProtocol())},
	}
}

func inboundPassthroughCluster() *clusterv3.Cluster {
	c := originalDstCluster(InboundPassthroughCluster)
	c.UpstreamBindConfig = &corev3.BindConfig{SourceAddress: &corev3.SocketAddress{
		Address:       inboundPassthroughSource,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 0},
	}}
	return c
}

// inboundClusters are the STATIC clusters "inbound|<port>||" towards the
// workload, plus the inbound passthrough.
func inboundClusters(ports []inboundPort) []types.Resource {
	out := make([]types.Resource, 0, len(ports)+1)
	for _, ip := range ports {
		name := ip.cluster()
		c := &clusterv3.Cluster{
			Name:                 name,
			ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
			ConnectTimeout:       durationpb.New(wellKnownConnectTimeout),
			LoadAssignment: &endpointv3.ClusterLoadAssignment{
				ClusterName: name,
				Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: ip.endpoint}},
				}}}},
			},
		}
		if ip.bindSource != "" {
			c.UpstreamBindConfig = &corev3.BindConfig{SourceAddress: &corev3.SocketAddress{
				Address:       ip.bindSource,
				PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 0},
			}}
		}
		switch ip.protocol {
		case model.ProtocolHTTP2, model.ProtocolGRPC:
			c.TypedExtensionProtocolOptions = map[string]*anypb.Any{httpProtocolOptionsKey: anyOf(explicitHTTP2())}
		case model.ProtocolUnknown:
			c.TypedExtensionProtocolOptions = map[string]*anypb.Any{httpProtocolOptionsKey: anyOf(useDownstreamProtocol())}
		}
		out = append(out, c)
	}
	return append(out, inboundPassthroughCluster())
}

func useDownstreamProtocol() *upstreamhttpv3.HttpProtocolOptions {
	return &upstreamhttpv3.HttpProtocolOptions{UpstreamProtocolOptions: &upstreamhttpv3.HttpProtocolOptions_UseDownstreamProtocolConfig{
		UseDownstreamProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_UseDownstreamHttpConfig{
			HttpProtocolOptions:  &corev3.Http1ProtocolOptions{},
			Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
		},
	}}
}

func explicitHTTP2() *upstreamhttpv3.HttpProtocolOptions {
	return &upstreamhttpv3.HttpProtocolOptions{UpstreamProtocolOptions: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{
		ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}},
		},
	}}
}
