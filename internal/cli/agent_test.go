package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protojson"

	"loom.dev/loom/internal/agent"
	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/pkg/model"
)

// agentEnvironment is what an injected pod's container environment sets.
var agentEnvironment = map[string]string{
	"POD_NAMESPACE": "demo", "SERVICE_ACCOUNT": "echo", "TRUST_DOMAIN": "example.org",
	"CA_ADDR": "istiod.istio-system.svc:15012", "ISTIO_META_CLUSTER_ID": "east", "POD_NAME": "echo-1",
	"INSTANCE_IP": "10.0.0.7", "INSTANCE_IPS": "", "XDS_ADDRESS": "istiod.istio-system.svc:15010",
	agentLabelsEnv: `{"app": "echo", "version": "v1"}`,
}

// runAgentCommand runs `loom agent args` in env and returns the options it
// would run the agent with.
func runAgentCommand(t *testing.T, env map[string]string, args ...string) (agent.Options, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var got agent.Options
	runAgent = func(_ context.Context, opts agent.Options) error { got = opts; return nil }
	t.Cleanup(func() { runAgent = agent.Run })
	cmd := newAgentCommand()
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	return got, err
}

func TestAgentCommandReadsTheIstioEnvironment(t *testing.T) {
	got, err := runAgentCommand(t, agentEnvironment, "--output-dir", "/etc/certs", "--grpc-bootstrap", "/etc/bootstrap.json", "--once")
	if err != nil {
		t.Fatal(err)
	}
	want := agent.Options{
		TrustDomain: "example.org", Namespace: "demo", ServiceAccount: "echo", KeyAlgorithm: agent.RSA2048,
		CAAddress: "istiod.istio-system.svc:15012", CARootFile: "/var/run/secrets/istio/root-cert.pem",
		TokenFile: "/var/run/secrets/tokens/istio-token", ClusterID: "east",
		CertTTL: 24 * time.Hour, RequestTimeout: 30 * time.Second,
		OutputDir: "/etc/certs", GRPCBootstrap: "/etc/bootstrap.json", Once: true, WatchTrustBundle: true,
		Bootstrap: agent.BootstrapOptions{
			XDSAddress: "istiod.istio-system.svc:15010", PodName: "echo-1", InstanceIPs: []string{"10.0.0.7"},
			Labels: map[string]string{"app": "echo", "version": "v1"}, RefreshInterval: 10 * time.Second,
		},
	}
	if d := cmp.Diff(want, got, cmpopts.IgnoreFields(agent.Options{}, "Logger")); d != "" {
		t.Errorf("options (-want +got):\n%s", d)
	}
}

func TestAgentCommandFlagsWinOverTheEnvironment(t *testing.T) {
	got, err := runAgentCommand(t, agentEnvironment, "--namespace", "other", "--labels", "app=flag",
		"--instance-ips", "10.0.0.8,fd00::8", "--key-algorithm", "ECDSA_P256", "--cert-ttl", "1h", "--sds-socket", "/var/run/sds")
	if err != nil {
		t.Fatal(err)
	}
	if got.Namespace != "other" || got.Bootstrap.Labels["app"] != "flag" || len(got.Bootstrap.Labels) != 1 ||
		strings.Join(got.Bootstrap.InstanceIPs, " ") != "10.0.0.8 fd00::8" || got.KeyAlgorithm != agent.ECDSAP256 ||
		got.CertTTL != time.Hour || got.SDSSocket != "/var/run/sds" {
		t.Errorf("flags did not win: %+v", got)
	}
}

func TestAgentCommandDefaultsWithoutEnvironment(t *testing.T) {
	env := map[string]string{"TRUST_DOMAIN": "", "ISTIO_META_CLUSTER_ID": "", "INSTANCE_IP": "", "INSTANCE_IPS": "", agentLabelsEnv: ""}
	got, err := runAgentCommand(t, env, "--output-dir", "/etc/certs")
	if err != nil {
		t.Fatal(err)
	}
	if got.TrustDomain != "cluster.local" || got.ClusterID != "Kubernetes" || got.Bootstrap.InstanceIPs != nil || got.Bootstrap.Labels != nil {
		t.Errorf("defaults: trust domain %q, cluster id %q, IPs %v, labels %v", got.TrustDomain, got.ClusterID, got.Bootstrap.InstanceIPs, got.Bootstrap.Labels)
	}
}

func TestAgentCommandNamesWhatIsMissing(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"no namespace", map[string]string{"POD_NAMESPACE": ""}, "POD_NAMESPACE"},
		{"no service account", map[string]string{"SERVICE_ACCOUNT": ""}, "SERVICE_ACCOUNT"},
		{"no CA address", map[string]string{"CA_ADDR": ""}, "CA_ADDR"},
		{"labels not JSON", map[string]string{agentLabelsEnv: "app=echo"}, agentLabelsEnv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range agentEnvironment {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			for k, v := range env {
				t.Setenv(k, v)
			}
			cmd := newAgentCommand()
			cmd.SetArgs([]string{"--output-dir", t.TempDir(), "--once"})
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("loom agent = %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}

// The node of the gRPC bootstrap `loom agent` writes from an injected pod's
// environment is what `loom discovery` reads as a proxyless gRPC workload.
func TestAgentGRPCBootstrapNodeIsReadByDiscovery(t *testing.T) {
	opts, err := runAgentCommand(t, agentEnvironment, "--output-dir", "/etc/certs", "--grpc-bootstrap", "/etc/bootstrap.json", "--revision", "canary")
	if err != nil {
		t.Fatal(err)
	}
	data, err := agent.GRPCBootstrap(&opts)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Node json.RawMessage }
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{}
	if err := protojson.Unmarshal(doc.Node, node); err != nil {
		t.Fatal(err)
	}
	p, err := discovery.ParseNode(node)
	if err != nil {
		t.Fatal(err)
	}
	want := model.Proxy{
		ID: node.GetId(), Kind: model.KindGRPC, Namespace: "demo", IPs: []string{"10.0.0.7"},
		Labels: map[string]string{"app": "echo", "version": "v1"}, Revision: "canary",
	}
	if d := cmp.Diff(want, p); d != "" {
		t.Errorf("discovery reads the node as (-want +got):\n%s", d)
	}
}
