package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/credentials/tls/certprovider"
	_ "google.golang.org/grpc/credentials/tls/certprovider/pemfile" // registers file_watcher
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
	"google.golang.org/grpc/xds"
	"k8s.io/utils/clock"
)

// writeTestBootstrap runs the agent once with a gRPC bootstrap and returns
// the options and the bootstrap document.
func writeTestBootstrap(t *testing.T) (Options, []byte) {
	t.Helper()
	ca := newTestCA(t, time.Now)
	opts := testOptions(t, ca, clock.RealClock{}, &logLines{})
	opts.Once = true
	opts.GRPCBootstrap = filepath.Join(t.TempDir(), "grpc-bootstrap.json")
	opts.Bootstrap = BootstrapOptions{
		XDSAddress: "istiod.istio-system.svc:15010", PodName: "echo-1", InstanceIPs: []string{"10.0.0.7", "fd00::7"},
		Labels: map[string]string{"app": "echo"}, Revision: "canary", RefreshInterval: 5 * time.Second,
	}
	if err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	return opts, readFile(t, opts.GRPCBootstrap)
}

func TestAgentGRPCBootstrapShape(t *testing.T) {
	opts, data := writeTestBootstrap(t)
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"xds_servers": []any{map[string]any{
			"server_uri":      "istiod.istio-system.svc:15010",
			"channel_creds":   []any{map[string]any{"type": "insecure"}},
			"server_features": []any{"xds_v3"},
		}},
		"node": map[string]any{
			"id": "sidecar~10.0.0.7~echo-1.demo~demo.svc.cluster.local",
			"metadata": map[string]any{
				"NAMESPACE": "demo", "NAME": "echo-1", "SERVICE_ACCOUNT": "echo", "CLUSTER_ID": "Kubernetes",
				"GENERATOR": "grpc", "INSTANCE_IPS": "10.0.0.7,fd00::7", "LABELS": map[string]any{"app": "echo"},
				"ISTIO_REVISION": "canary",
			},
			"locality": map[string]any{},
		},
		"server_listener_resource_name_template": "grpc/server?xds.resource.listening_address=%s",
		"certificate_providers": map[string]any{"default": map[string]any{
			"plugin_name": "file_watcher",
			"config": map[string]any{
				"certificate_file":    filepath.Join(opts.OutputDir, "cert-chain.pem"),
				"private_key_file":    filepath.Join(opts.OutputDir, "key.pem"),
				"ca_certificate_file": filepath.Join(opts.OutputDir, "root-cert.pem"),
				"refresh_interval":    "5s",
			},
		}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("bootstrap (-want +got):\n%s", d)
	}
}

// gRPC-Go accepts the bootstrap, and its file_watcher provider, configured
// from it, loads the agent's files as a key pair with the CA's root.
func TestAgentGRPCBootstrapAcceptedByGRPC(t *testing.T) {
	opts, data := writeTestBootstrap(t)
	builder, err := xds.NewXDSResolverWithConfigForTesting(data)
	if err != nil {
		t.Fatalf("gRPC refuses the bootstrap: %v", err)
	}
	r, err := builder.Build(resolver.Target{URL: url.URL{Scheme: "xds", Path: "/echo.demo:8080"}}, nopClientConn{}, resolver.BuildOptions{})
	if err != nil {
		t.Fatalf("gRPC refuses the bootstrap: %v", err)
	}
	r.Close()

	var doc struct {
		CertificateProviders map[string]struct {
			PluginName string          `json:"plugin_name"`
			Config     json.RawMessage `json:"config"`
		} `json:"certificate_providers"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	p := doc.CertificateProviders[CertificateProviderInstance]
	config, err := certprovider.ParseConfig(p.PluginName, p.Config)
	if err != nil {
		t.Fatal(err)
	}
	provider, err := config.Build(certprovider.BuildOptions{WantIdentity: true, WantRoot: true})
	if err != nil {
		t.Fatal(err)
	}
	defer provider.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	km, err := provider.KeyMaterial(ctx)
	if err != nil {
		t.Fatalf("gRPC's file_watcher cannot load the agent's files: %v", err)
	}
	leaf := readLeaf(t, opts.OutputDir)
	if len(km.Certs) != 1 || !bytes.Equal(km.Certs[0].Certificate[0], leaf.Raw) {
		t.Errorf("file_watcher loaded another certificate than %s", CertChainFile)
	}
	if km.Roots == nil {
		t.Error("file_watcher loaded no roots")
	}
}

// nopClientConn is a resolver.ClientConn that ignores everything.
type nopClientConn struct{ resolver.ClientConn }

func (nopClientConn) UpdateState(resolver.State) error { return nil }
func (nopClientConn) ReportError(error)                {}
func (nopClientConn) ParseServiceConfig(string) *serviceconfig.ParseResult {
	return &serviceconfig.ParseResult{}
}
