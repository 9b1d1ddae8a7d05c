package translate

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/xds"
	"google.golang.org/protobuf/types/known/durationpb"

	"loom.dev/loom/pkg/model"
)

// TestGRPCGoFollowsMeshDefaultsAndIstioWeights checks with gRPC-Go's own
// xDS client that weights adding up to 90 split traffic between their
// destinations, as with istiod, rather than leaving it to the default
// route (which would also reach v3), and that the mesh defaultTimeout
// bounds a route without a timeout through max_stream_duration.
func TestGRPCGoFollowsMeshDefaultsAndIstioWeights(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gRPC servers")
	}
	xs := startXDSServer(t)
	versions := []string{"v1", "v2", "v3"}
	echo := mkService("echo", "default", mkPorts("grpc:7070"))
	ports := map[string]uint32{}
	for _, v := range versions {
		ports[v] = startBackend(t, xs, v, "127.0.0.1:0")
		ep := mkEndpoint("127.0.0.1", "app=echo", "version="+v)
		ep.Ports = map[string]uint32{"grpc": ports[v]}
		echo.Endpoints = append(echo.Endpoints, ep)
	}
	snap := model.Build(model.Input{
		Services: []*model.Service{echo},
		// Far below the caller's own deadline, so the outcome does not depend on timing.
		RouteDefaults: model.RouteDefaults{Timeout: durationpb.New(100 * time.Millisecond)},
		VirtualServices: []*model.VirtualService{mkVS(t, "default", "echo", `
hosts: [echo]
http:
- match: [{headers: {x-hang: {exact: "yes"}}}]
  route: [{destination: {host: echo, subset: v1}}]
- route:
  - {destination: {host: echo, subset: v1}, weight: 50}
  - {destination: {host: echo, subset: v2}, weight: 40}`)},
		DestinationRules: []*model.DestinationRule{mkDR(t, "default", "echo", `
host: echo
subsets:
- {name: v1, labels: {version: v1}}
- {name: v2, labels: {version: v2}}`)},
	})
	for _, v := range versions {
		xs.serveReporting(t, snap, model.Proxy{ID: v, Kind: model.KindGRPC, Namespace: "default", IPs: []string{"127.0.0.1"}})
	}
	client := mkClient("default")
	problems := xs.serveReporting(t, snap, client)
	if !hasProblem(problems, "VirtualService", "default/echo", "spec.http[1].route") || len(problems) != 1 {
		t.Errorf("problems %v, want one about the weights at spec.http[1].route", problems)
	}
	for v, port := range ports {
		waitServing(t, v, port, 10*time.Second)
	}
	call := dialXDS(t, xs, client.ID, "xds:///echo:7070")
	counts := map[string]int{}
	for range 200 {
		counts[call(t, nil, codes.OK)]++
	}
	if counts["v3"] > 0 || counts["v1"] == 0 || counts["v2"] == 0 {
		t.Errorf("50/40 split: got %v, want v1 and v2 only", counts)
	}
	resolver, err := xds.NewXDSResolverWithConfigForTesting(xs.bootstrap(client.ID))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("xds:///echo:7070", grpc.WithResolvers(resolver), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), metadata.Pairs("x-hang", "yes")), time.Minute)
	defer cancel()
	_, err = testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.WaitForReady(true))
	// The backend waits for the call to end; the caller's deadline has not
	// passed, so the route's max_stream_duration ended it.
	if status.Code(err) != codes.DeadlineExceeded || ctx.Err() != nil {
		t.Errorf("hanging call: %v (caller's context: %v), want DeadlineExceeded from the mesh default timeout", err, ctx.Err())
	}
	xs.checkNoNACK(t)
}
