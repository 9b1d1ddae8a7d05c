package values

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// The extension providers of spec.meshConfig reach the mesh ConfigMap that
// loom discovery reads, field for field, in a form its strict reader takes.
func TestExtensionProvidersRenderIntoTheMeshConfigMap(t *testing.T) {
	mesh := defaulted(t, []byte(`
apiVersion: operator.loom.dev/v1alpha1
kind: MeshOperator
metadata: {name: mesh}
spec:
  namespace: loom-system
  version: 1.1.0
  meshConfig:
    extensionProviders:
    - name: sample-ext-authz-grpc
      envoyExtAuthzGrpc:
        service: ext-authz.foo.svc.cluster.local
        port: 9000
        timeout: 500ms
        failOpen: true
        statusOnError: "503"
        includeRequestBodyInCheck: {maxRequestBytes: 1024, packAsBytes: true}
    - name: sample-ext-authz-http
      envoyExtAuthzHttp:
        service: foo/ext-authz.foo.svc.cluster.local
        port: 8000
        pathPrefix: /check
        includeRequestHeadersInCheck: ["x-ext-authz"]
        includeAdditionalHeadersInCheck: {x-source: loom}
        headersToUpstreamOnAllow: ["x-user"]
        headersToDownstreamOnDeny: ["x-ext-authz-*"]
        headersToDownstreamOnAllow: ["set-cookie"]
`))
	read := renderedMeshConfig(t, mesh)
	if !reflect.DeepEqual(read.ExtensionProviders, mesh.Spec.MeshConfig.ExtensionProviders) {
		t.Errorf("mesh.yaml providers %+v, want %+v", read.ExtensionProviders, mesh.Spec.MeshConfig.ExtensionProviders)
	}
	if got := read.ExtensionProviders[0].EnvoyExtAuthzGRPC; got == nil || got.Timeout.Duration.String() != "500ms" || got.Port != 9000 {
		t.Errorf("gRPC provider read back as %+v", got)
	}
}

// renderedMeshConfig is the mesh.yaml of the control plane rendered for mesh, read as loom
// discovery reads it (strictly).
func renderedMeshConfig(t *testing.T, mesh *operatorv1alpha1.MeshOperator) operatorv1alpha1.MeshConfigSpec {
	t.Helper()
	objs, err := renderControlPlane(t, mesh)
	if err != nil {
		t.Fatal(err)
	}
	var meshYAML string
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && strings.HasSuffix(o.GetName(), "-mesh") {
			meshYAML, _, _ = unstructured.NestedString(o.Object, "data", "mesh.yaml")
		}
	}
	if meshYAML == "" {
		t.Fatal("no mesh ConfigMap with mesh.yaml")
	}
	var read operatorv1alpha1.MeshConfigSpec
	if err := yaml.UnmarshalStrict([]byte(meshYAML), &read); err != nil {
		t.Fatalf("loom discovery would refuse the mesh config: %v\n%s", err, meshYAML)
	}
	return read
}
