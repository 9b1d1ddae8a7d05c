package grpcbootstrap_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
	"google.golang.org/grpc/xds"

	"loom.dev/loom/pkg/grpcbootstrap"
)

func TestBootstrapShape(t *testing.T) {
	b, err := grpcbootstrap.Bootstrap("127.0.0.1:15010", "node-1", map[string]any{"NAMESPACE": "demo", "n": 2})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"xds_servers": []any{map[string]any{
			"server_uri":      "127.0.0.1:15010",
			"channel_creds":   []any{map[string]any{"type": "insecure"}},
			"server_features": []any{"xds_v3"},
		}},
		"node": map[string]any{
			"id":       "node-1",
			"metadata": map[string]any{"NAMESPACE": "demo", "n": float64(2)},
			"locality": map[string]any{}, // grpc-js-xds needs one
		},
		"server_listener_resource_name_template": "grpc/server?xds.resource.listening_address=%s",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("bootstrap (-want +got):\n%s", d)
	}
}

// stubConn is a resolver.ClientConn that ignores everything.
type stubConn struct{}

func (stubConn) UpdateState(resolver.State) error { return nil }
func (stubConn) ReportError(error)                {}
func (stubConn) NewAddress([]resolver.Address)    {}
func (stubConn) ParseServiceConfig(string) *serviceconfig.ParseResult {
	return &serviceconfig.ParseResult{}
}

// checkWithGRPC parses and validates b with gRPC-Go's own bootstrap code: it
// builds an xds resolver for target from it (the xDS client is created and
// closed again at once).
func checkWithGRPC(b []byte, target string) error {
	builder, err := xds.NewXDSResolverWithConfigForTesting(b)
	if err != nil {
		return err
	}
	r, err := builder.Build(resolver.Target{URL: *mustParse(target)}, stubConn{}, resolver.BuildOptions{})
	if err != nil {
		return err
	}
	r.Close()
	return nil
}

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// gRPC itself accepts the documents.
func TestGRPCAcceptsBootstrap(t *testing.T) {
	docs := map[string]func() ([]byte, error){
		"minimal": func() ([]byte, error) { return grpcbootstrap.Bootstrap("127.0.0.1:1", "n", nil) },
		"full": func() ([]byte, error) {
			return grpcbootstrap.Config{
				ServerURI: "dns:///localhost:1",
				NodeID:    "sidecar~10.1.0.5~client-5.bench~bench.svc.cluster.local",
				Cluster:   "c",
				Metadata:  map[string]any{"LABELS": map[string]any{"app": "x"}},
				Locality:  &grpcbootstrap.Locality{Region: "r", Zone: "z", SubZone: "s"},
			}.Marshal()
		},
	}
	for name, mk := range docs {
		b, err := mk()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := checkWithGRPC(b, "xds:///echo.test:8080"); err != nil {
			t.Errorf("%s: gRPC rejects the bootstrap: %v\n%s", name, err, b)
		}
	}
	// And rejects garbage, so the check above means something.
	if err := checkWithGRPC([]byte(`{"xds_servers": "nope"}`), "xds:///echo.test:8080"); err == nil {
		t.Error("gRPC accepted a broken bootstrap")
	}
}

func TestBootstrapErrors(t *testing.T) {
	if _, err := grpcbootstrap.Bootstrap("", "n", nil); err == nil {
		t.Error("empty server URI accepted")
	}
	if _, err := grpcbootstrap.Bootstrap("127.0.0.1:1", "", nil); err == nil {
		t.Error("empty node id accepted")
	}
	if _, err := grpcbootstrap.Bootstrap("127.0.0.1:1", "n", map[string]any{"f": func() {}}); err == nil {
		t.Error("unmarshalable metadata accepted")
	}
}

func TestListenerNames(t *testing.T) {
	for target, want := range map[string]string{
		"xds:///echo.test:8080":                 "echo.test:8080",
		"xds:///echo.demo.svc.cluster.local:80": "echo.demo.svc.cluster.local:80",
		"xds:///10.244.3.10:8080":               "10.244.3.10:8080",
		"xds:///echo":                           "echo",
	} {
		got, err := grpcbootstrap.ClientListenerName(target)
		if err != nil || got != want {
			t.Errorf("ClientListenerName(%q) = %q, %v; want %q", target, got, err, want)
		}
	}
	for _, bad := range []string{"dns:///x:1", "xds://auth/x:1", "xds:///", "x:1"} {
		if got, err := grpcbootstrap.ClientListenerName(bad); err == nil {
			t.Errorf("ClientListenerName(%q) = %q, want error", bad, got)
		}
	}
	if got, want := grpcbootstrap.ServerListenerName("10.244.3.10:8080"), "grpc/server?xds.resource.listening_address=10.244.3.10:8080"; got != want {
		t.Errorf("ServerListenerName = %q, want %q", got, want)
	}
	if got, want := grpcbootstrap.ServerListenerNameFor("::1", 80), "grpc/server?xds.resource.listening_address=[::1]:80"; got != want {
		t.Errorf("ServerListenerNameFor = %q, want %q", got, want)
	}
}
