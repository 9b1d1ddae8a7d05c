package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// spec.meshConfig.extensionProviders is validated by the apiserver (CEL and OpenAPI): unique
// names, exactly one ext_authz kind, a port from 1 to 65535.
func TestExtensionProvidersAreValidated(t *testing.T) {
	const grpc = `{"name": "authz", "envoyExtAuthzGrpc": {"service": "ext-authz.foo.svc.cluster.local", "port": 9000}}`
	for _, tc := range []struct {
		name, providers string
		want            []string // substrings of the apiserver's error; none: accepted
	}{
		{"valid", `[` + grpc + `, {"name": "http", "envoyExtAuthzHttp": {"service": "foo/ext-authz.foo.svc.cluster.local", "port": 8000,
			"timeout": "1s", "pathPrefix": "/check", "statusOnError": "503", "includeRequestHeadersInCheck": ["x-ext-authz"],
			"includeAdditionalHeadersInCheck": {"x-source": "loom"}, "includeRequestBodyInCheck": {"maxRequestBytes": 1024}}}]`, nil},
		{"duplicate-name", `[` + grpc + `, ` + grpc + `]`, []string{"spec.meshConfig.extensionProviders", "extension provider names must be unique"}},
		{"no-kind", `[{"name": "authz"}]`, []string{"spec.meshConfig.extensionProviders[0]", "exactly one of envoyExtAuthzHttp and envoyExtAuthzGrpc"}},
		{"both-kinds", `[{"name": "authz", "envoyExtAuthzGrpc": {"service": "a", "port": 1}, "envoyExtAuthzHttp": {"service": "a", "port": 1}}]`,
			[]string{"exactly one of envoyExtAuthzHttp and envoyExtAuthzGrpc"}},
		{"port-zero", `[{"name": "authz", "envoyExtAuthzGrpc": {"service": "a", "port": 0}}]`, []string{"spec.meshConfig.extensionProviders[0].envoyExtAuthzGrpc.port"}},
		{"port-too-big", `[{"name": "authz", "envoyExtAuthzHttp": {"service": "a", "port": 65536}}]`, []string{"spec.meshConfig.extensionProviders[0].envoyExtAuthzHttp.port"}},
		{"bad-status", `[{"name": "authz", "envoyExtAuthzHttp": {"service": "a", "port": 80, "statusOnError": "forbidden"}}]`,
			[]string{"spec.meshConfig.extensionProviders[0].envoyExtAuthzHttp.statusOnError"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mesh := &operatorv1alpha1.MeshOperator{ObjectMeta: metav1.ObjectMeta{Name: "ext-" + tc.name}}
			if err := json.Unmarshal([]byte(`{"meshConfig": {"extensionProviders": `+tc.providers+`}}`), &mesh.Spec); err != nil {
				t.Fatal(err)
			}
			err := k8sClient.Create(t.Context(), mesh, client.DryRunAll)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("valid providers rejected: %v", err)
				}
				return
			}
			if err == nil {
				_ = k8sClient.Delete(context.Background(), mesh)
				t.Fatalf("apiserver accepted %s", tc.providers)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q: %v", want, err)
				}
			}
		})
	}
}
