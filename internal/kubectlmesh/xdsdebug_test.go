package kubectlmesh

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"k8s.io/client-go/kubernetes/fake"
	restclient "k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"loom.dev/loom/internal/golden"
	"loom.dev/loom/pkg/xds"
)

// staticGenerator serves the same resources to every proxy.
type staticGenerator map[string][]types.Resource

func (g staticGenerator) ViewKey(*corev3.Node) (string, error)                 { return "echo", nil }
func (g staticGenerator) Generate(string) (map[string][]types.Resource, error) { return g, nil }

// TestProxyConfigFromDebugHandler runs proxy-config against pkg/xds's own debug handler, after
// an ADS client subscribed to and ACKed every type as the echo pod's proxy: the output must be
// the goldens the canned dumps produce.
func TestProxyConfigFromDebugHandler(t *testing.T) {
	gen := staticGenerator{}
	for typeURL, msgs := range echoResources(t) {
		for _, m := range msgs {
			gen[typeURL] = append(gen[typeURL], m)
		}
	}
	srv := xds.NewServer(xds.Options{Generator: gen, Logger: logr.Discard(), DebounceQuiet: time.Millisecond, DebounceMax: 10 * time.Millisecond})
	gs := grpc.NewServer(xds.GRPCServerOptions()...)
	srv.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Start(ctx) }()
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); cancel(); <-done })
	srv.SetReady()

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: echoNode}
	subscriptions := map[string][]string{
		"clusters": nil, "listeners": nil,
		"routes":    {"echo.demo.svc.cluster.local:80"},
		"endpoints": {"outbound|80||echo.demo.svc.cluster.local"},
		"secrets":   {"default", "ROOTCA"},
	}
	for _, kind := range kindNames() {
		typeURL, names := configKinds[kind].typeURL, subscriptions[kind]
		if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: typeURL, ResourceNames: names}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: typeURL, ResourceNames: names, VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce}); err != nil {
			t.Fatal(err)
		}
	}
	waitForACKs(t, srv, len(subscriptions))

	handler := srv.DebugHandler()
	clientset := fake.NewClientset()
	clientset.PrependProxyReactor("services", func(action k8stesting.Action) (bool, restclient.ResponseWrapper, error) {
		a := action.(k8stesting.ProxyGetAction)
		if a.GetNamespace() != "loom-system" || a.GetName() != "loom-control-plane-1-1-0" || a.GetPort() != "15014" {
			return true, fakeResponse{err: fmt.Errorf("no such service port %s/%s:%s", a.GetNamespace(), a.GetName(), a.GetPort())}, nil
		}
		query := url.Values{}
		for k, v := range a.GetParams() {
			query.Set(k, v)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, a.GetPath()+"?"+query.Encode(), nil))
		if rec.Code != http.StatusOK {
			return true, fakeResponse{body: rec.Body.Bytes(), err: fmt.Errorf("status %d", rec.Code)}, nil
		}
		return true, fakeResponse{body: rec.Body.Bytes()}, nil
	})
	for _, kind := range kindNames() {
		out, err := run(t, clientset, clusterObjects(), "proxy-config", "echo-v1-7d9f", kind)
		if err != nil {
			t.Fatalf("proxy-config %s: %v", kind, err)
		}
		golden.Assert(t, filepath.Join("testdata", "proxy-config-"+kind+".txt"), []byte(out))
	}
	out, err := run(t, clientset, clusterObjects(), "proxy-config", "echo-v1-7d9f", "secrets", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	for _, banned := range []string{"private_key", "PRIVATE KEY", "TU9DSyBLRVk"} {
		if strings.Contains(out, banned) {
			t.Errorf("proxy-config secrets -o json shows %q:\n%s", banned, out)
		}
	}
}

func waitForACKs(t *testing.T, srv *xds.Server, types int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		acked := 0
		for _, p := range srv.Proxies() {
			for _, ts := range p.Types {
				if ts.AckedNonce != "" && ts.Unanswered == 0 {
					acked++
				}
			}
		}
		if acked == types {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the control plane did not record %d ACKs: %+v", types, srv.Proxies())
}
