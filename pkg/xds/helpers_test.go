package xds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
)

// failAfter bounds every wait in these tests; it is a failure deadline, never
// a timing assertion.
const failAfter = 20 * time.Second

// quietWindow is how long a test waits to see that nothing arrives.
const quietWindow = 300 * time.Millisecond

// testGen is a Generator whose resources tests set per view. The view key of
// a node is its cluster field ("default" if empty); node ids starting with
// "bad" are rejected.
type testGen struct {
	mu       sync.Mutex
	views    map[string]map[string][]types.Resource
	calls    map[string]int
	err      error
	panicMsg string
}

func newTestGen() *testGen {
	return &testGen{views: map[string]map[string][]types.Resource{}, calls: map[string]int{}}
}

func (g *testGen) ViewKey(node *corev3.Node) (string, error) {
	if strings.HasPrefix(node.GetId(), "bad") {
		return "", errors.New("unknown proxy kind")
	}
	if node.GetCluster() == "" {
		return "default", nil
	}
	return node.GetCluster(), nil
}

func (g *testGen) Generate(key string) (map[string][]types.Resource, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls[key]++
	if g.panicMsg != "" {
		panic(g.panicMsg)
	}
	if g.err != nil {
		return nil, g.err
	}
	out := map[string][]types.Resource{}
	for t, list := range g.views[key] {
		out[t] = append([]types.Resource(nil), list...)
	}
	return out, nil
}

// set replaces the resources of one type in a view.
func (g *testGen) set(view, typeURL string, res ...types.Resource) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.views[view] == nil {
		g.views[view] = map[string][]types.Resource{}
	}
	g.views[view][typeURL] = res
}

func (g *testGen) callCount(view string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[view]
}

func (g *testGen) setErr(err error) {
	g.mu.Lock()
	g.err = err
	g.mu.Unlock()
}

func cluster(name string, v int) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		ConnectTimeout:       durationpb.New(time.Duration(v+1) * time.Millisecond),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}}},
	}
}

func endpoints(name string, port uint32) *endpointv3.ClusterLoadAssignment {
	return &endpointv3.ClusterLoadAssignment{
		ClusterName: name,
		Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{
				Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
					Address: "10.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
				}},
			}}},
		}}}},
	}
}

func route(name, clusterName string) *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{Name: name, VirtualHosts: []*routev3.VirtualHost{{
		Name: name, Domains: []string{"*"},
		Routes: []*routev3.Route{{
			Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: clusterName}}},
		}},
	}}}
}

func listener(name string) *listenerv3.Listener {
	return &listenerv3.Listener{Name: name, StatPrefix: name}
}

// clusters builds n clusters named c0..c(n-1) at version v.
func clusters(n, v int) []types.Resource {
	out := make([]types.Resource, n)
	for i := range out {
		out[i] = cluster(fmt.Sprintf("c%d", i), v)
	}
	return out
}

// testEnv is a running Server behind a real gRPC server on 127.0.0.1:0.
type testEnv struct {
	t    *testing.T
	srv  *Server
	gen  *testGen
	reg  *prometheus.Registry
	conn *grpc.ClientConn
	logs *logLines
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(prefix, args string) {
	l.mu.Lock()
	l.lines = append(l.lines, prefix+" "+args)
	l.mu.Unlock()
}

func (l *logLines) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, substr) {
			n++
		}
	}
	return n
}

type envOpt func(*Options)

func startEnv(t *testing.T, ready bool, opts ...envOpt) *testEnv {
	t.Helper()
	gen := newTestGen()
	reg := prometheus.NewRegistry()
	logs := &logLines{}
	o := Options{
		Generator:     gen,
		DebounceQuiet: 10 * time.Millisecond,
		DebounceMax:   100 * time.Millisecond,
		Logger:        funcr.New(logs.add, funcr.Options{Verbosity: 1}),
		Registerer:    reg,
	}
	for _, f := range opts {
		f(&o)
	}
	srv := NewServer(o)
	gs := grpc.NewServer(GRPCServerOptions()...)
	srv.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Start(ctx)
	}()
	go func() { _ = gs.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		gs.Stop()
		cancel()
		<-done
	})
	e := &testEnv{t: t, srv: srv, gen: gen, reg: reg, conn: conn, logs: logs}
	if ready {
		srv.SetReady()
		waitFor(t, "the ready push", func() bool { return srv.pushCount.Load() >= 1 })
	}
	return e
}

// waitFor polls cond until it holds or failAfter passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(failAfter)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// trigger asks for a push and waits until it ran.
func (e *testEnv) trigger() {
	e.t.Helper()
	before := e.srv.pushCount.Load()
	e.srv.Trigger()
	waitFor(e.t, "push", func() bool { return e.srv.pushCount.Load() > before })
}

func (e *testEnv) counter(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

var (
	cdsType = resourcev3.ClusterType
	edsType = resourcev3.EndpointType
	ldsType = resourcev3.ListenerType
	rdsType = resourcev3.RouteType
)
