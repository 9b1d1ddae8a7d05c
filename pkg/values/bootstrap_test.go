package values

import (
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3" // resolves the Any in the clusters
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/render"
)

// TestGatewayBootstrapIsValidEnvoy: the Envoy bootstrap the gateway chart renders parses as
// an Envoy v3 Bootstrap with no unknown field, passes go-control-plane's validation, typed
// configs inside Any included, and carries the xDS cluster and the sds-grpc cluster that the
// mesh TLS Loom configures (SDS secrets default and ROOTCA) refers to.
func TestGatewayBootstrapIsValidEnvoy(t *testing.T) {
	for _, profile := range []string{"demo", "production"} {
		mesh := sample(t, profile)
		for i := range mesh.Spec.Gateways {
			gw := &mesh.Spec.Gateways[i]
			vals, err := Gateway(&mesh.Spec, gw)
			objs := renderChart(t, render.Gateway, GatewayNamespace(&mesh.Spec, gw), vals, err)
			envoyYAML, _, _ := unstructured.NestedString(find(objs, "ConfigMap").Object, "data", "envoy.yaml")
			b := parseBootstrap(t, envoyYAML)
			pipes := map[string]string{} // cluster -> the Unix socket it reaches
			for _, c := range b.GetStaticResources().GetClusters() {
				for key, a := range c.GetTypedExtensionProtocolOptions() {
					validateAny(t, profile+"/"+gw.Name+" cluster "+c.GetName()+" "+key, a)
				}
				for _, e := range c.GetLoadAssignment().GetEndpoints() {
					for _, lb := range e.GetLbEndpoints() {
						pipes[c.GetName()] = lb.GetEndpoint().GetAddress().GetPipe().GetPath()
					}
				}
			}
			if pipes["xds"] == "" || pipes["sds-grpc"] == "" {
				t.Errorf("%s/%s: static clusters to Unix sockets %v, want xds and sds-grpc", profile, gw.Name, pipes)
			}
			checkAgentContainer(t, profile+"/"+gw.Name, find(objs, "Deployment"), &mesh.Spec, pipes)
		}
	}
}

func parseBootstrap(t *testing.T, envoyYAML string) *bootstrapv3.Bootstrap {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(envoyYAML))
	if err != nil {
		t.Fatalf("bootstrap is not YAML: %v\n%s", err, envoyYAML)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(js, b); err != nil {
		t.Fatalf("bootstrap is not an Envoy v3 Bootstrap: %v\n%s", err, envoyYAML)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("bootstrap does not validate: %v", err)
	}
	return b
}

func validateAny(t *testing.T, where string, a *anypb.Any) {
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
}

// checkAgentContainer: the gateway pod runs loom agent in gateway mode, serving SDS and
// proxying xDS on the sockets the bootstrap names, with the projected token for the control
// plane's secure address.
func checkAgentContainer(t *testing.T, where string, deploy *unstructured.Unstructured, spec *operatorv1alpha1.MeshOperatorSpec, pipes map[string]string) {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		c := c.(map[string]any)
		if c["name"] != "agent" {
			continue
		}
		args, _, _ := unstructured.NestedStringSlice(c, "args")
		want := []string{"agent", "--proxy=gateway", "--sds-socket=" + pipes["sds-grpc"], "--xds-proxy-socket=" + pipes["xds"]}
		if strings.Join(args, " ") != strings.Join(want, " ") {
			t.Errorf("%s: agent args %v, want %v", where, args, want)
		}
		env, _, _ := unstructured.NestedSlice(c, "env")
		for _, e := range env {
			if e := e.(map[string]any); e["name"] == "CA_ADDR" && e["value"] != CAAddress(spec) {
				t.Errorf("%s: CA_ADDR %v, want %s", where, e["value"], CAAddress(spec))
			}
		}
		return
	}
	t.Errorf("%s: no agent container", where)
}
