package translate

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/xds"

	"loom.dev/loom/pkg/model"
)

// These tests hand Loom's output to gRPC-Go's own xDS client and server
// (v1.85, the proxyless client Loom serves) through go-control-plane's
// xDS server, and check that every resource is accepted and behaves as the
// Istio configuration says.

// xdsServer serves fixed resources per node id and records NACKs.
type xdsServer struct {
	addr  string
	cache cachev3.SnapshotCache
	mu    sync.Mutex
	nacks []string
}

func startXDSServer(t *testing.T) *xdsServer {
	t.Helper()
	s := &xdsServer{cache: cachev3.NewSnapshotCache(false, cachev3.IDHash{}, nil)}
	callbacks := serverv3.CallbackFuncs{StreamRequestFunc: func(_ int64, req *discoveryv3.DiscoveryRequest) error {
		if req.GetErrorDetail() != nil {
			s.mu.Lock()
			s.nacks = append(s.nacks, fmt.Sprintf("%s %s: %s", req.GetNode().GetId(), req.GetTypeUrl(), req.GetErrorDetail().GetMessage()))
			s.mu.Unlock()
		}
		return nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	gs := grpc.NewServer()
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, serverv3.NewServer(ctx, s.cache, callbacks))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(func() { cancel(); gs.Stop() })
	s.addr = lis.Addr().String()
	return s
}

// serve translates the snapshot for proxy and serves it to proxy.ID.
func (s *xdsServer) serve(t *testing.T, snap *model.Snapshot, proxy model.Proxy) {
	t.Helper()
	if problems := s.serveReporting(t, snap, proxy); len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
}

// serveReporting is serve for configurations with expected problems.
func (s *xdsServer) serveReporting(t *testing.T, snap *model.Snapshot, proxy model.Proxy) []model.Problem {
	t.Helper()
	res, problems := ForProxy(snap, proxy)
	validateAll(t, res)
	snapshot, err := cachev3.NewSnapshot("1", res)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cache.SetSnapshot(context.Background(), proxy.ID, snapshot); err != nil {
		t.Fatal(err)
	}
	return problems
}

func (s *xdsServer) checkNoNACK(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.nacks {
		t.Errorf("gRPC-Go rejected Loom's configuration: %s", n)
	}
}

func (s *xdsServer) bootstrap(node string) []byte {
	return []byte(fmt.Sprintf(`{
  "xds_servers": [{"server_uri": %q, "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
  "node": {"id": %q},
  "server_listener_resource_name_template": "grpc/server?xds.resource.listening_address=%%s"
}`, s.addr, node))
}

// backend is an xDS-enabled gRPC server answering UnaryCall with its name.
type backend struct {
	testpb.UnimplementedTestServiceServer
	name string
}

// UnaryCall answers at once, or, for a call with an x-hang header, only
// when the call's deadline or cancellation ends it.
func (b *backend) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("x-hang")) > 0 {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return &testpb.SimpleResponse{Hostname: b.name}, nil
}

// startBackend starts an xDS gRPC server listening on addr that gets its
// listener from xs under node id name.
func startBackend(t *testing.T, xs *xdsServer, name, addr string) uint32 {
	t.Helper()
	serving := make(chan struct{})
	var once sync.Once
	srv, err := xds.NewGRPCServer(grpc.Creds(insecure.NewCredentials()), xds.BootstrapContentsForTesting(xs.bootstrap(name)),
		xds.ServingModeCallback(func(_ net.Addr, args xds.ServingModeChangeArgs) {
			if args.Mode == 1 { // connectivity.ServingModeServing
				once.Do(func() { close(serving) })
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	testpb.RegisterTestServiceServer(srv, &backend{name: name})
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	port := lis.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() {
		select {
		case <-serving:
		default:
			t.Errorf("backend %s never received a serving listener", name)
		}
	})
	return uint32(port)
}

func waitServing(t *testing.T, name string, port uint32, deadline time.Duration) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(int(port)), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err == nil {
			_, err = testpb.NewTestServiceClient(conn).UnaryCall(context.Background(), &testpb.SimpleRequest{})
			_ = conn.Close()
			if err == nil {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("backend %s does not serve", name)
}

func TestGRPCGoAcceptsAndFollowsTranslation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gRPC servers")
	}
	xs := startXDSServer(t)
	// v2 listens on every address, as servers often do: it asks for the
	// listener of "[::]:port".
	ports := map[string]uint32{"v1": startBackend(t, xs, "v1", "127.0.0.1:0"), "v2": startBackend(t, xs, "v2", ":0")}
	echo := mkService("echo", "default", mkPorts("grpc:7070"))
	for _, v := range []string{"v1", "v2"} {
		ep := mkEndpoint("127.0.0.1", "app=echo", "version="+v)
		ep.Ports = map[string]uint32{"grpc": ports[v]}
		echo.Endpoints = append(echo.Endpoints, ep)
	}
	snap := model.Build(model.Input{
		Services: []*model.Service{echo},
		ServiceEntries: []*model.ServiceEntry{mkSE(t, "default", "dns", fmt.Sprintf(`
hosts: [echo.example.com]
resolution: DNS
ports: [{number: 7070, name: grpc}]
endpoints: [{address: localhost, ports: {grpc: %d}}]`, ports["v1"]))},
		VirtualServices: []*model.VirtualService{mkVS(t, "default", "echo", `
hosts: [echo]
http:
- match: [{headers: {x-fault: {exact: abort}}}]
  fault: {abort: {grpcStatus: RESOURCE_EXHAUSTED, percentage: {value: 100}}}
  route: [{destination: {host: echo, subset: v1}}]
- match: [{headers: {x-version: {exact: v2}}}]
  timeout: 5s
  retries: {attempts: 3, retryOn: "unavailable,cancelled", perTryTimeout: 1s}
  route: [{destination: {host: echo, subset: v2}}]
- route:
  - {destination: {host: echo, subset: v1}, weight: 80}
  - {destination: {host: echo, subset: v2}, weight: 20}`)},
		DestinationRules: []*model.DestinationRule{mkDR(t, "default", "echo", `
host: echo
trafficPolicy:
  connectionPool: {http: {http2MaxRequests: 1000}}
  outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}
subsets:
- {name: v1, labels: {version: v1}}
- name: v2
  labels: {version: v2}
  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}`)},
	})
	for _, v := range []string{"v1", "v2"} {
		xs.serve(t, snap, model.Proxy{ID: v, Kind: model.KindGRPC, Namespace: "default", IPs: []string{"127.0.0.1"}})
	}
	client := mkClient("default")
	xs.serve(t, snap, client)
	for v, port := range ports {
		waitServing(t, v, port, 10*time.Second)
	}

	for _, target := range []string{"xds:///echo.default.svc.cluster.local:7070", "xds:///echo:7070", "xds:///echo.default:7070"} {
		t.Run(target, func(t *testing.T) {
			call := dialXDS(t, xs, client.ID, target)
			counts := map[string]int{}
			for range 400 {
				counts[call(t, nil, codes.OK)]++
			}
			if counts["v1"] < 280 || counts["v1"] > 360 {
				t.Errorf("80/20 split: got %v", counts)
			}
			for range 20 {
				if got := call(t, metadata.Pairs("x-version", "v2", "x-user", "ada"), codes.OK); got != "v2" {
					t.Fatalf("header match sent x-version: v2 to %s", got)
				}
			}
			call(t, metadata.Pairs("x-fault", "abort"), codes.ResourceExhausted)
		})
	}
	t.Run("LOGICAL_DNS", func(t *testing.T) {
		call := dialXDS(t, xs, client.ID, "xds:///echo.example.com:7070")
		if got := call(t, nil, codes.OK); got != "v1" {
			t.Errorf("the DNS entry resolves to v1, got %s", got)
		}
	})
	xs.checkNoNACK(t)
}

// dialXDS returns a function making one UnaryCall through an xDS channel
// and returning the backend that answered, failing unless the status is
// want.
func dialXDS(t *testing.T, xs *xdsServer, node, target string) func(*testing.T, metadata.MD, codes.Code) string {
	t.Helper()
	resolver, err := xds.NewXDSResolverWithConfigForTesting(xs.bootstrap(node))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(target, grpc.WithResolvers(resolver), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := testpb.NewTestServiceClient(conn)
	return func(t *testing.T, md metadata.MD, want codes.Code) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if md != nil {
			ctx = metadata.NewOutgoingContext(ctx, md)
		}
		resp, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.WaitForReady(want == codes.OK))
		if got := status.Code(err); got != want {
			t.Fatalf("UnaryCall via %s: %v, want %v", target, err, want)
		}
		return resp.GetHostname()
	}
}

// TestXDSServerRecordsNACK shows the harness above notices rejected
// configuration: gRPC-Go NACKs a MAGLEV cluster.
func TestXDSServerRecordsNACK(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gRPC servers")
	}
	xs := startXDSServer(t)
	snap := model.Build(model.Input{Services: []*model.Service{mkService("echo", "default", mkPorts("grpc:7070"), mkEndpoint("127.0.0.1"))}})
	client := mkClient("default")
	res, _ := ForProxy(snap, client)
	for _, r := range res[resourcev3.ClusterType] {
		r.(*clusterv3.Cluster).LbPolicy = clusterv3.Cluster_MAGLEV
	}
	snapshot, err := cachev3.NewSnapshot("1", res)
	if err != nil {
		t.Fatal(err)
	}
	if err := xs.cache.SetSnapshot(context.Background(), client.ID, snapshot); err != nil {
		t.Fatal(err)
	}
	call := dialXDS(t, xs, client.ID, "xds:///echo:7070")
	call(t, nil, codes.Unavailable)
	xs.mu.Lock()
	defer xs.mu.Unlock()
	if len(xs.nacks) == 0 {
		t.Error("no NACK recorded for a MAGLEV cluster")
	}
}
