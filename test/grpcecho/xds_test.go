package main

// A tiny in-test xDS management server (go-control-plane's snapshot cache in
// non-ADS mode) and the resources the tests serve. Test scaffolding only: it
// stands in for Loom so this package can check its xDS client and server
// modes on its own.

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	xdsserver "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

type controlPlane struct {
	Addr   string
	cache  cache.SnapshotCache
	mu     sync.Mutex
	nacks  []string
	ver    int
	nodeID string
	gs     *grpc.Server
	cancel context.CancelFunc
}

// startControlPlane serves ADS on listenIP (pick an address the xDS
// processes can reach: the netns gateway for processes inside namespaces).
func startControlPlane(t *testing.T, listenIP, nodeID string) *controlPlane {
	t.Helper()
	cp := &controlPlane{
		cache:  cache.NewSnapshotCache(false, cache.IDHash{}, nil),
		nodeID: nodeID,
	}
	if err := cp.serve(net.JoinHostPort(listenIP, "0")); err != nil {
		t.Fatalf("control plane: %v", err)
	}
	t.Cleanup(func() {
		cp.Stop()
		if n := cp.NACKs(); len(n) > 0 {
			t.Logf("xDS NACKs received: %s", strings.Join(n, "; "))
		}
	})
	return cp
}

func (cp *controlPlane) serve(addr string) error {
	cb := xdsserver.CallbackFuncs{
		StreamRequestFunc: func(_ int64, req *discoverygrpc.DiscoveryRequest) error {
			if req.GetErrorDetail() != nil {
				cp.mu.Lock()
				cp.nacks = append(cp.nacks, fmt.Sprintf("%s %v: %s", req.GetTypeUrl(), req.GetResourceNames(), req.GetErrorDetail().GetMessage()))
				cp.mu.Unlock()
			}
			return nil
		},
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	gs := grpc.NewServer()
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(gs, xdsserver.NewServer(ctx, cp.cache, cb))
	cp.mu.Lock()
	cp.Addr, cp.gs, cp.cancel = lis.Addr().String(), gs, cancel
	cp.mu.Unlock()
	go func() { _ = gs.Serve(lis) }()
	return nil
}

// Stop stops serving (the snapshots are kept).
func (cp *controlPlane) Stop() {
	cp.mu.Lock()
	gs, cancel := cp.gs, cp.cancel
	cp.gs, cp.cancel = nil, nil
	cp.mu.Unlock()
	if gs != nil {
		gs.Stop()
		cancel()
	}
}

// Restart serves again on the same address after Stop.
func (cp *controlPlane) Restart(t *testing.T) {
	t.Helper()
	if err := cp.serve(cp.Addr); err != nil {
		t.Fatalf("control plane restart on %s: %v", cp.Addr, err)
	}
}

func (cp *controlPlane) NACKs() []string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return append([]string(nil), cp.nacks...)
}

// Set replaces the node's snapshot with these resources.
func (cp *controlPlane) Set(t *testing.T, res ...types.Resource) {
	t.Helper()
	byType := map[resource.Type][]types.Resource{}
	for _, r := range res {
		var typ resource.Type
		switch r.(type) {
		case *listener.Listener:
			typ = resource.ListenerType
		case *route.RouteConfiguration:
			typ = resource.RouteType
		case *cluster.Cluster:
			typ = resource.ClusterType
		case *endpoint.ClusterLoadAssignment:
			typ = resource.EndpointType
		default:
			t.Fatalf("unexpected resource %T", r)
		}
		byType[typ] = append(byType[typ], r)
	}
	cp.mu.Lock()
	cp.ver++
	ver := fmt.Sprint(cp.ver)
	cp.mu.Unlock()
	snap, err := cache.NewSnapshot(ver, byType)
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.cache.SetSnapshot(context.Background(), cp.nodeID, snap); err != nil {
		t.Fatal(err)
	}
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func adsSource() *core.ConfigSource {
	return &core.ConfigSource{
		ResourceApiVersion:    core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
	}
}

func routerFilter(t *testing.T) *hcm.HttpFilter {
	return &hcm.HttpFilter{
		Name:       "envoy.filters.http.router",
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(t, &router.Router{})},
	}
}

// clientListener is the API listener a gRPC client asks for (name =
// target host:port), pointing at the RouteConfiguration routeName over ADS.
func clientListener(t *testing.T, name, routeName string) *listener.Listener {
	m := &hcm.HttpConnectionManager{
		StatPrefix: "grpc",
		RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{
			ConfigSource:    adsSource(),
			RouteConfigName: routeName,
		}},
		HttpFilters: []*hcm.HttpFilter{routerFilter(t)},
	}
	return &listener.Listener{
		Name:        name,
		ApiListener: &listener.ApiListener{ApiListener: mustAny(t, m)},
	}
}

// weightedRoute sends every RPC to the clusters with the given weights and
// retries Unavailable up to 3 times.
func weightedRoute(name string, weights map[string]uint32) *route.RouteConfiguration {
	var wc []*route.WeightedCluster_ClusterWeight
	for _, c := range slices.Sorted(maps.Keys(weights)) {
		wc = append(wc, &route.WeightedCluster_ClusterWeight{Name: c, Weight: wrapperspb.UInt32(weights[c])})
	}
	return &route.RouteConfiguration{
		Name: name,
		VirtualHosts: []*route.VirtualHost{{
			Name:    "all",
			Domains: []string{"*"},
			Routes: []*route.Route{{
				Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
				Action: &route.Route_Route{Route: &route.RouteAction{
					ClusterSpecifier: &route.RouteAction_WeightedClusters{WeightedClusters: &route.WeightedCluster{Clusters: wc}},
					RetryPolicy: &route.RetryPolicy{
						RetryOn:    "unavailable",
						NumRetries: wrapperspb.UInt32(3),
					},
				}},
			}},
		}},
	}
}

func edsCluster(name string) *cluster.Cluster {
	return &cluster.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
		EdsClusterConfig:     &cluster.Cluster_EdsClusterConfig{EdsConfig: adsSource()},
		LbPolicy:             cluster.Cluster_ROUND_ROBIN,
	}
}

func socketAddress(ip string, port int) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Protocol:      core.SocketAddress_TCP,
		Address:       ip,
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
}

func loadAssignment(name, ip string, port int) *endpoint.ClusterLoadAssignment {
	return &endpoint.ClusterLoadAssignment{
		ClusterName: name,
		Endpoints: []*endpoint.LocalityLbEndpoints{{
			Locality:            &core.Locality{Region: "test", Zone: "test-a"},
			LoadBalancingWeight: wrapperspb.UInt32(1), // gRPC ignores localities without a weight
			LbEndpoints: []*endpoint.LbEndpoint{{
				HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{Address: socketAddress(ip, port)}},
			}},
		}},
	}
}

// serverListener is the Listener an xDS-enabled gRPC server bound to ip:port
// asks for: its address, and one filter chain whose HttpConnectionManager
// has an inline route config accepting every RPC (non_forwarding_action).
func serverListener(t *testing.T, name, ip string, port int) *listener.Listener {
	m := &hcm.HttpConnectionManager{
		StatPrefix: "grpc-server",
		RouteSpecifier: &hcm.HttpConnectionManager_RouteConfig{RouteConfig: &route.RouteConfiguration{
			Name: "inbound",
			VirtualHosts: []*route.VirtualHost{{
				Name:    "inbound",
				Domains: []string{"*"},
				Routes: []*route.Route{{
					Match:  &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
					Action: &route.Route_NonForwardingAction{NonForwardingAction: &route.NonForwardingAction{}},
				}},
			}},
		}},
		HttpFilters: []*hcm.HttpFilter{routerFilter(t)},
	}
	return &listener.Listener{
		Name:    name,
		Address: socketAddress(ip, port),
		FilterChains: []*listener.FilterChain{{
			Name: "inbound",
			Filters: []*listener.Filter{{
				Name:       "envoy.filters.network.http_connection_manager",
				ConfigType: &listener.Filter_TypedConfig{TypedConfig: mustAny(t, m)},
			}},
		}},
	}
}
