package translate

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"loom.dev/loom/pkg/model"
)

// A real gRPC-Go xDS server enforces the RBAC filters Loom translates
// AuthorizationPolicies into, each policy set served in turn while the
// server runs; gRPC-Go never NACKs them.
func TestGRPCServerEnforcesAuthorizationPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gRPC servers")
	}
	xs := startXDSServer(t)
	port := startBackend(t, xs, "authz", "127.0.0.1:0")
	echo := mkService("echo", "default", mkPorts("grpc:7070"))
	ep := mkEndpoint("127.0.0.1", "app=echo")
	ep.Ports = map[string]uint32{"grpc": port}
	echo.Endpoints = append(echo.Endpoints, ep)
	proxy := model.Proxy{ID: "authz", Kind: model.KindGRPC, Namespace: "default", IPs: []string{"127.0.0.1"}, Labels: map[string]string{"app": "echo"}}
	version := 0
	serve := func(policies ...string) {
		t.Helper()
		var aps []*model.AuthorizationPolicy
		for i, p := range policies {
			aps = append(aps, mkAP(t, "default", fmt.Sprintf("p%d", i), p))
		}
		res, _ := ForProxy(model.Build(model.Input{Services: []*model.Service{echo}, AuthorizationPolicies: aps}), proxy)
		validateAll(t, res)
		checkGRPCServerRBAC(t, res)
		version++
		snapshot, err := cachev3.NewSnapshot(strconv.Itoa(version), res)
		if err != nil {
			t.Fatal(err)
		}
		if err := xs.cache.SetSnapshot(context.Background(), proxy.ID, snapshot); err != nil {
			t.Fatal(err)
		}
	}
	const unary = "UnaryCall"
	// call makes an RPC on a new connection (a listener update applies to
	// new connections) and returns its status code.
	call := func(method string, md metadata.MD) codes.Code {
		conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(int(port)), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if md != nil {
			ctx = metadata.NewOutgoingContext(ctx, md)
		}
		client := testpb.NewTestServiceClient(conn)
		if method == unary {
			_, err = client.UnaryCall(ctx, &testpb.SimpleRequest{})
		} else {
			_, err = client.EmptyCall(ctx, &testpb.Empty{})
		}
		return status.Code(err)
	}
	// eventually waits until the call gives want, and says how long the
	// new policy took to apply.
	eventually := func(what, method string, md metadata.MD, want codes.Code) {
		t.Helper()
		start := time.Now()
		for got := call(method, md); got != want; got = call(method, md) {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s: %s gives %v, want %v", what, method, got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("%s: applied within %v", what, time.Since(start).Round(time.Millisecond))
	}
	serve()
	waitServing(t, "authz", port, 10*time.Second)

	// EmptyCall is not implemented by the backend: Unimplemented means RBAC let it through.
	serve(`{action: DENY, rules: [{to: [{operation: {paths: ["/grpc.testing.TestService/UnaryCall"]}}]}]}`)
	eventually("deny by path", unary, nil, codes.PermissionDenied)
	eventually("deny by path, other method", "EmptyCall", nil, codes.Unimplemented)

	serve(`{rules: [{when: [{key: "request.headers[x-user]", values: [ada]}]}]}`)
	eventually("allow by header", unary, metadata.Pairs("x-user", "ada"), codes.OK)
	eventually("default deny when an ALLOW exists", unary, metadata.Pairs("x-user", "bob"), codes.PermissionDenied)

	serve(`{}`)
	eventually("allow-nothing", unary, metadata.Pairs("x-user", "ada"), codes.PermissionDenied)

	serve(`{action: AUDIT, rules: [{}]}`)
	eventually("AUDIT does not block", unary, nil, codes.OK)

	// gRPC cannot evaluate the template: the DENY rule keeps only its
	// method, which every gRPC call has, so it denies all.
	serve(`{action: DENY, rules: [{to: [{operation: {paths: ["/grpc.testing.TestService/{*}"], methods: [POST]}}]}]}`)
	eventually("DENY widened when gRPC cannot evaluate a path template", unary, nil, codes.PermissionDenied)

	// ...and an ALLOW rule it cannot evaluate is dropped, allowing nothing.
	serve(`{rules: [{to: [{operation: {paths: ["/grpc.testing.TestService/{*}"]}}]}]}`)
	eventually("ALLOW dropped when gRPC cannot evaluate a path template", unary, nil, codes.PermissionDenied)
	serve(`{rules: [{to: [{operation: {paths: ["/grpc.testing.TestService/*"]}}]}]}`)
	eventually("ALLOW by path prefix", unary, nil, codes.OK)

	serve(`{action: DENY, rules: [{from: [{source: {ipBlocks: ["127.0.0.0/8"]}}]}]}`)
	eventually("deny by ipBlocks", unary, nil, codes.PermissionDenied)
	serve(`{action: DENY, rules: [{from: [{source: {notIpBlocks: ["127.0.0.0/8"]}}]}]}`)
	eventually("notIpBlocks lets loopback in", unary, nil, codes.OK)

	serve(`{action: DENY, rules: [{from: [{source: {notRequestPrincipals: ["*"]}}]}]}`)
	eventually("no RequestAuthentication: notRequestPrincipals denies all", unary, nil, codes.PermissionDenied)
	xs.checkNoNACK(t)
}
