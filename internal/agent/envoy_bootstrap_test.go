package agent

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"

	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/pkg/model"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// envoyTestOptions are the options of an injected sidecar of pod echo-1 in
// namespace demo, with the defaults the command line would set.
func envoyTestOptions() Options {
	o := Options{
		TrustDomain: "cluster.local", Namespace: "demo", ServiceAccount: "echo",
		CAAddress: "istiod.istio-system.svc:15012", CARootFile: "/var/run/secrets/istio/root-cert.pem",
		TokenFile: "/var/run/secrets/tokens/istio-token", ClusterID: "Kubernetes",
		Proxy: ProxyEnvoy,
		Bootstrap: BootstrapOptions{
			PodName: "echo-1", InstanceIPs: []string{"10.0.0.7"},
			Labels:   map[string]string{"app": "echo", "version": "v1"},
			Revision: "canary",
		},
	}
	o.setDefaults()
	return o
}

// parseEnvoyBootstrap reads data as Envoy does (no unknown field) and
// validates it with go-control-plane, unpacking every Any it knows to be
// in the bootstrap on its own, so the test does not rely on the code's walk.
func parseEnvoyBootstrap(t *testing.T, data []byte) *bootstrapv3.Bootstrap {
	t.Helper()
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(data, b); err != nil {
		t.Fatalf("not an Envoy v3 Bootstrap: %v\n%s", err, data)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("bootstrap does not validate: %v", err)
	}
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				hcm := unpackValid(t, "listener "+l.GetName()+" filter "+f.GetName(), f.GetTypedConfig()).(*hcmv3.HttpConnectionManager)
				for _, hf := range hcm.GetHttpFilters() {
					unpackValid(t, "listener "+l.GetName()+" http filter "+hf.GetName(), hf.GetTypedConfig())
				}
			}
		}
	}
	for _, c := range b.GetStaticResources().GetClusters() {
		for key, a := range c.GetTypedExtensionProtocolOptions() {
			unpackValid(t, "cluster "+c.GetName()+" "+key, a)
		}
	}
	return b
}

func unpackValid(t *testing.T, where string, a *anypb.Any) any {
	t.Helper()
	m, err := a.UnmarshalNew()
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	v, ok := m.(interface{ ValidateAll() error })
	if !ok {
		t.Fatalf("%s: %T cannot be validated", where, m)
	}
	if err := v.ValidateAll(); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return m
}

func TestEnvoyBootstrapMatchesGoldenAndValidates(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Options)
	}{
		{"sidecar", func(*Options) {}},
		{"sidecar-ipv6", func(o *Options) {
			o.Bootstrap.InstanceIPs = []string{"fd00::7"}
			o.Bootstrap.Revision = ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := envoyTestOptions()
			tc.change(&o)
			if err := o.validate(); err != nil {
				t.Fatal(err)
			}
			data, err := EnvoyBootstrap(&o)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "envoy-bootstrap-"+tc.name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := readFile(t, golden); !bytes.Equal(want, data) {
				t.Errorf("bootstrap differs from %s (go test -run %s -update rewrites it):\n%s", golden, t.Name(), data)
			}
			parseEnvoyBootstrap(t, data)
		})
	}
}

// TestEnvoyBootstrapNodeIsReadByDiscovery: Loom's discovery reads the
// bootstrap's node as the sidecar of pod echo-1 in demo, revision canary.
func TestEnvoyBootstrapNodeIsReadByDiscovery(t *testing.T) {
	o := envoyTestOptions()
	data, err := EnvoyBootstrap(&o)
	if err != nil {
		t.Fatal(err)
	}
	b := parseEnvoyBootstrap(t, data)
	p, err := discovery.ParseNode(b.GetNode())
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != model.KindSidecar || p.Namespace != "demo" || p.Revision != "canary" ||
		strings.Join(p.IPs, ",") != "10.0.0.7" || p.Labels["app"] != "echo" || p.Labels["version"] != "v1" {
		t.Errorf("discovery reads the node as %+v", p)
	}
	meta := b.GetNode().GetMetadata().GetFields()
	for key, want := range map[string]string{"NAME": "echo-1", "SERVICE_ACCOUNT": "echo", "CLUSTER_ID": "Kubernetes"} {
		if got := meta[key].GetStringValue(); got != want {
			t.Errorf("node metadata %s = %q, want %q", key, got, want)
		}
	}
	if id := b.GetNode().GetId(); id != "sidecar~10.0.0.7~echo-1.demo~demo.svc.cluster.local" {
		t.Errorf("node id %q", id)
	}
}

// TestEnvoyBootstrapWiresTheAgent: admin on loopback only, ADS over the
// xDS proxy socket, SDS over the SDS socket, 15090 serving the admin's
// Prometheus stats and 15021 the agent's readiness.
func TestEnvoyBootstrapWiresTheAgent(t *testing.T) {
	o := envoyTestOptions()
	o.SDSSocket, o.Envoy.XDSProxySocket, o.Envoy.StatusPort, o.Envoy.AdminPort = "/s/sds", "/s/xds", 25020, 25000
	data, err := EnvoyBootstrap(&o)
	if err != nil {
		t.Fatal(err)
	}
	b := parseEnvoyBootstrap(t, data)
	if a := b.GetAdmin().GetAddress().GetSocketAddress(); a.GetAddress() != "127.0.0.1" || a.GetPortValue() != 25000 {
		t.Errorf("admin address %v", a)
	}
	ads := b.GetDynamicResources().GetAdsConfig()
	if ads.GetApiType() != corev3.ApiConfigSource_DELTA_GRPC || ads.GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() != xdsClusterName {
		t.Errorf("ADS config %v", ads)
	}
	if b.GetDynamicResources().GetLdsConfig().GetAds() == nil || b.GetDynamicResources().GetCdsConfig().GetAds() == nil {
		t.Errorf("LDS and CDS must come over ADS: %v", b.GetDynamicResources())
	}
	clusters := map[string]*clusterv3.Cluster{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = c
	}
	endpoint := func(name string) *corev3.Address {
		return clusters[name].GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress()
	}
	if p := endpoint(xdsClusterName).GetPipe().GetPath(); p != "/s/xds" {
		t.Errorf("xds-grpc pipe %q", p)
	}
	if p := endpoint("sds-grpc").GetPipe().GetPath(); p != "/s/sds" {
		t.Errorf("sds-grpc pipe %q", p)
	}
	if a := endpoint(agentClusterName).GetSocketAddress(); a.GetAddress() != "127.0.0.1" || a.GetPortValue() != 25020 {
		t.Errorf("agent cluster %v", a)
	}
	if a := endpoint(prometheusClusterName).GetSocketAddress(); a.GetAddress() != "127.0.0.1" || a.GetPortValue() != 25000 {
		t.Errorf("prometheus_stats cluster %v", a)
	}
	routes := map[uint32]string{}
	for _, l := range b.GetStaticResources().GetListeners() {
		hcm := &hcmv3.HttpConnectionManager{}
		if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(hcm); err != nil {
			t.Fatal(err)
		}
		r := hcm.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()[0]
		routes[l.GetAddress().GetSocketAddress().GetPortValue()] = r.GetMatch().GetPrefix() + " -> " + r.GetRoute().GetCluster()
	}
	if routes[PrometheusPort] != "/stats/prometheus -> prometheus_stats" || routes[ReadinessPort] != "/healthz/ready -> agent" || len(routes) != 2 {
		t.Errorf("listener routes %v", routes)
	}
}

// TestValidateEnvoyConfigLooksInsideAny: a listener whose
// HttpConnectionManager has no stat_prefix passes ValidateAll but not
// validateEnvoyConfig.
func TestValidateEnvoyConfigLooksInsideAny(t *testing.T) {
	hcm, err := anypb.New(&hcmv3.HttpConnectionManager{})
	if err != nil {
		t.Fatal(err)
	}
	b := &bootstrapv3.Bootstrap{StaticResources: &bootstrapv3.Bootstrap_StaticResources{Listeners: []*listenerv3.Listener{{
		Name:    "bad",
		Address: socketAddress("0.0.0.0", 1),
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name: "hcm", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm},
		}}}},
	}}}}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("ValidateAll: %v; the test needs a bootstrap that only fails inside Any", err)
	}
	err = validateEnvoyConfig(b)
	if err == nil || !strings.Contains(err.Error(), "StatPrefix") {
		t.Errorf("validateEnvoyConfig: %v, want the HttpConnectionManager's StatPrefix rejected", err)
	}
}

func TestEnvoyOptionsErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		change func(*Options)
		want   string
	}{
		{func(o *Options) { o.Proxy = "nginx" }, `--proxy "nginx"`},
		{func(o *Options) { o.Once = true }, "--once"},
		{func(o *Options) { o.Bootstrap.PodName = "" }, "--pod-name"},
		{func(o *Options) { o.Envoy.StatusPort = 70000 }, "--status-port"},
		{func(o *Options) { o.Envoy.DrainDuration = -1 }, "--drain-duration"},
		{func(o *Options) { o.Bootstrap.InstanceIPs = []string{"pod"} }, "--instance-ips[0]"},
		{func(o *Options) { o.Envoy.AppProbers = "{" }, AppProbersEnv},
		{func(o *Options) { o.Envoy.AppProbers = `{"/healthz":{"tcpSocket":{"port":80}}}` }, `key "/healthz"`},
		{func(o *Options) {
			o.Envoy.AppProbers = `{"/app-health/web/readyz":{"httpGet":{"port":"http"}}}`
		}, `httpGet.port: "http" is not a port number`},
		{func(o *Options) {
			o.Envoy.AppProbers = `{"/app-health/web/livez":{"tcpSocket":{"port":80},"grpc":{"port":90}}}`
		}, "exactly one of"},
	} {
		o := envoyTestOptions()
		tc.change(&o)
		err := o.validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error naming %s", err, tc.want)
		}
	}
}
