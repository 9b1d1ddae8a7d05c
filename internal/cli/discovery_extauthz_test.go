package cli

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/translate"
)

// The mesh config file's extensionProviders reach discovery in Istio's
// MeshConfig form, every field kept, and pass translation's checks.
func TestMeshConfigExtensionProviders(t *testing.T) {
	opts, err := applyMeshConfigYAML(t, `
extensionProviders:
- name: grpc
  envoyExtAuthzGrpc:
    service: ext-authz.foo.svc.cluster.local
    port: 9000
    timeout: 500ms
    failOpen: true
    statusOnError: "503"
    includeRequestBodyInCheck: {maxRequestBytes: 1024, packAsBytes: true}
- name: http
  envoyExtAuthzHttp:
    service: foo/ext-authz.foo.svc.cluster.local
    port: 8000
    pathPrefix: /check
    includeRequestHeadersInCheck: [x-ext-authz]
    includeAdditionalHeadersInCheck: {x-source: loom}
    headersToUpstreamOnAllow: [x-user]
    headersToDownstreamOnDeny: [x-deny]
    headersToDownstreamOnAllow: [set-cookie]
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"name":"grpc","envoyExtAuthzGrpc":{"service":"ext-authz.foo.svc.cluster.local","port":9000,"failOpen":true,"statusOnError":"503","includeRequestBodyInCheck":{"maxRequestBytes":1024,"packAsBytes":true},"timeout":"0.500s"}}`,
		`{"name":"http","envoyExtAuthzHttp":{"service":"foo/ext-authz.foo.svc.cluster.local","port":8000,"pathPrefix":"/check","headersToUpstreamOnAllow":["x-user"],"headersToDownstreamOnDeny":["x-deny"],"includeRequestHeadersInCheck":["x-ext-authz"],"includeAdditionalHeadersInCheck":{"x-source":"loom"},"headersToDownstreamOnAllow":["set-cookie"]}}`,
	}
	if len(opts.ExtensionProviders) != len(want) {
		t.Fatalf("providers %v", opts.ExtensionProviders)
	}
	for i, p := range opts.ExtensionProviders {
		if err := translate.CheckExtensionProvider(p); err != nil {
			t.Error(err)
		}
		var w model.ExtensionProvider
		if err := protojson.Unmarshal([]byte(want[i]), &w); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(p, &w) {
			t.Errorf("provider %d:\n got %v\nwant %v", i, p, &w)
		}
	}
}
