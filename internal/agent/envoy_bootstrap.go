package agent

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"loom.dev/loom/pkg/translate"
)

// Ports and names of the Envoy bootstrap, as Istio's.
const (
	// PrometheusPort serves Envoy's /stats/prometheus (from the admin port).
	PrometheusPort = 15090
	// ReadinessPort serves /healthz/ready, routed to the agent's status port.
	ReadinessPort = 15021

	xdsClusterName        = "xds-grpc"
	prometheusClusterName = "prometheus_stats"
	agentClusterName      = "agent"
	httpOptionsKey        = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
)

// EnvoyBootstrap returns the Envoy bootstrap of an injected sidecar, as
// JSON: the node as Loom's discovery reads it (ParseNode), ADS over the
// agent's xDS proxy socket, SDS over the agent's SDS socket, admin on
// 127.0.0.1 only, Prometheus stats on 15090 (tagged by StatsConfig) and
// readiness on 15021. It is validated as Envoy would, typed configs inside
// Any included.
func EnvoyBootstrap(o *Options) ([]byte, error) {
	b, err := envoyBootstrap(o)
	if err != nil {
		return nil, err
	}
	if err := validateEnvoyConfig(b); err != nil {
		return nil, fmt.Errorf("--envoy-bootstrap: generated bootstrap is invalid: %w", err)
	}
	data, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("--envoy-bootstrap: %w", err)
	}
	// protojson's layout varies on purpose; re-indent it so the file is stable.
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		return nil, fmt.Errorf("--envoy-bootstrap: %w", err)
	}
	out, err := json.MarshalIndent(tree, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("--envoy-bootstrap: %w", err)
	}
	return append(out, '\n'), nil
}

func envoyBootstrap(o *Options) (*bootstrapv3.Bootstrap, error) {
	node, err := envoyNode(o)
	if err != nil {
		return nil, err
	}
	listenAddress := "0.0.0.0"
	if allIPv6(o.Bootstrap.InstanceIPs) {
		listenAddress = "::"
	}
	statsListener, err := routeListener("envoy-prometheus", listenAddress, PrometheusPort, "stats", "/stats/prometheus", prometheusClusterName)
	if err != nil {
		return nil, err
	}
	readyListener, err := routeListener("envoy-readiness", listenAddress, ReadinessPort, "agent", "/healthz/ready", agentClusterName)
	if err != nil {
		return nil, err
	}
	xdsCluster, err := pipeHTTP2Cluster(xdsClusterName, o.Envoy.XDSProxySocket)
	if err != nil {
		return nil, err
	}
	// Envoy counts the long-lived ADS stream against its circuit breakers.
	xdsCluster.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{
		openThresholds(corev3.RoutingPriority_DEFAULT), openThresholds(corev3.RoutingPriority_HIGH),
	}}
	adsSource := func() *corev3.ConfigSource {
		return &corev3.ConfigSource{
			ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
			InitialFetchTimeout:   durationpb.New(0),
			ResourceApiVersion:    corev3.ApiVersion_V3,
		}
	}
	return &bootstrapv3.Bootstrap{
		Node:        node,
		StatsConfig: StatsConfig(),
		Admin: &bootstrapv3.Admin{
			Address: socketAddress("127.0.0.1", o.Envoy.AdminPort),
		},
		DynamicResources: &bootstrapv3.Bootstrap_DynamicResources{
			AdsConfig: &corev3.ApiConfigSource{
				ApiType:                   corev3.ApiConfigSource_DELTA_GRPC,
				TransportApiVersion:       corev3.ApiVersion_V3,
				SetNodeOnFirstMessageOnly: true,
				GrpcServices: []*corev3.GrpcService{{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
					EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: xdsClusterName},
				}}},
			},
			CdsConfig: adsSource(),
			LdsConfig: adsSource(),
		},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{
			Listeners: []*listenerv3.Listener{statsListener, readyListener},
			Clusters: []*clusterv3.Cluster{
				localCluster(prometheusClusterName, o.Envoy.AdminPort),
				localCluster(agentClusterName, o.Envoy.StatusPort),
				translate.SDSCluster(o.SDSSocket),
				xdsCluster,
			},
		},
	}, nil
}

// envoyNode is the node as internal/discovery's ParseNode reads it: id
// sidecar~IP~pod.namespace~namespace.svc.cluster.local and Istio's metadata.
func envoyNode(o *Options) (*corev3.Node, error) {
	b := o.Bootstrap
	ip := ""
	if len(b.InstanceIPs) > 0 {
		ip = b.InstanceIPs[0]
	}
	meta := map[string]any{
		"NAMESPACE":       o.Namespace,
		"NAME":            b.PodName,
		"SERVICE_ACCOUNT": o.ServiceAccount,
		"CLUSTER_ID":      o.ClusterID,
	}
	if len(b.InstanceIPs) > 0 {
		meta["INSTANCE_IPS"] = strings.Join(b.InstanceIPs, ",")
	}
	if len(b.Labels) > 0 {
		labels := make(map[string]any, len(b.Labels))
		for k, v := range b.Labels {
			labels[k] = v
		}
		meta["LABELS"] = labels
	}
	if b.Revision != "" {
		meta["ISTIO_REVISION"] = b.Revision
	}
	metadata, err := structpb.NewStruct(meta)
	if err != nil {
		return nil, fmt.Errorf("--envoy-bootstrap: node metadata: %w", err)
	}
	app := b.Labels["app"]
	if app == "" {
		app = "istio-proxy"
	}
	return &corev3.Node{
		Id:       fmt.Sprintf("sidecar~%s~%s.%s~%s.svc.cluster.local", ip, b.PodName, o.Namespace, o.Namespace),
		Cluster:  app + "." + o.Namespace,
		Metadata: metadata,
	}, nil
}

// routeListener serves GET prefix on address:port from cluster, and
// nothing else.
func routeListener(name, address string, port int, statPrefix, prefix, cluster string) (*listenerv3.Listener, error) {
	router, err := anypb.New(&routerv3.Router{})
	if err != nil {
		return nil, err
	}
	hcm, err := anypb.New(&hcmv3.HttpConnectionManager{
		StatPrefix: statPrefix,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
			VirtualHosts: []*routev3.VirtualHost{{
				Name:    "backend",
				Domains: []string{"*"},
				Routes: []*routev3.Route{{
					Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: prefix}},
					Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster}}},
				}},
			}},
		}},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name:       "envoy.filters.http.router",
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router},
		}},
	})
	if err != nil {
		return nil, err
	}
	return &listenerv3.Listener{
		Name:    name,
		Address: socketAddress(address, port),
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name:       "envoy.filters.network.http_connection_manager",
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm},
		}}}},
	}, nil
}

// localCluster reaches 127.0.0.1:port (Envoy's admin, the agent).
func localCluster(name string, port int) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(250 * time.Millisecond),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints:   []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{endpointAt(socketAddress("127.0.0.1", port))}}},
		},
	}
}

// pipeHTTP2Cluster reaches a gRPC server on the Unix socket path.
func pipeHTTP2Cluster(name, path string) (*clusterv3.Cluster, error) {
	options, err := anypb.New(&httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}},
		}},
	})
	if err != nil {
		return nil, err
	}
	pipe := &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: path}}}
	return &clusterv3.Cluster{
		Name:                          name,
		ClusterDiscoveryType:          &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:                durationpb.New(time.Second),
		TypedExtensionProtocolOptions: map[string]*anypb.Any{httpOptionsKey: options},
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints:   []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{endpointAt(pipe)}}},
		},
	}, nil
}

func openThresholds(p corev3.RoutingPriority) *clusterv3.CircuitBreakers_Thresholds {
	return &clusterv3.CircuitBreakers_Thresholds{
		Priority:           p,
		MaxConnections:     wrapperspb.UInt32(100000),
		MaxPendingRequests: wrapperspb.UInt32(100000),
		MaxRequests:        wrapperspb.UInt32(100000),
	}
}

func endpointAt(a *corev3.Address) *endpointv3.LbEndpoint {
	return &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: a}}}
}

func socketAddress(address string, port int) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       address,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
}

// allIPv6 reports whether the pod has IPs and all are IPv6, as Istio
// decides to listen on "::".
func allIPv6(ips []string) bool {
	for _, ip := range ips {
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Is4() || a.Is4In6() {
			return false
		}
	}
	return len(ips) > 0
}

// validateEnvoyConfig runs go-control-plane's ValidateAll on m and on every
// message packed in an Any inside it, recursively: ValidateAll alone does
// not look inside Any.
func validateEnvoyConfig(m proto.Message) error {
	v, ok := m.(interface{ ValidateAll() error })
	if !ok {
		return fmt.Errorf("%s has no validation", m.ProtoReflect().Descriptor().FullName())
	}
	if err := v.ValidateAll(); err != nil {
		return err
	}
	return validateAnysIn(m.ProtoReflect())
}
