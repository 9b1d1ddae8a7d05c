package discovery

import (
	"testing"

	"loom.dev/loom/pkg/model"
)

// A RequestAuthentication as the API server serves it reaches the model
// with its selector and JWT rules.
func TestRequestAuthenticationIsConverted(t *testing.T) {
	var kind istioKind
	for _, k := range istioKinds() {
		if k.gvk.Kind == "RequestAuthentication" {
			kind = k
		}
	}
	if !kind.enforced() || kind.gvk.Group != "security.istio.io" || kind.crd != "requestauthentications.security.istio.io" {
		t.Fatalf("RequestAuthentication kind: %+v", kind.gvk)
	}
	obj := map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication",
		"metadata": map[string]any{"name": "jwt", "namespace": "web", "generation": int64(2)},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "a"}},
			"jwtRules": []any{map[string]any{
				"issuer": "https://issuer.example", "jwksUri": "https://issuer.example/jwks",
				"fromHeaders": []any{map[string]any{"name": "x-jwt", "prefix": "Bearer "}}, "timeout": "2s",
			}},
		},
	}
	typed := kind.typed()
	if field, err := decodeIstio(obj, typed); err != nil {
		t.Fatalf("decode: %s: %v", field, err)
	}
	var in model.Input
	kind.add(&in, typed)
	if len(in.RequestAuthentications) != 1 {
		t.Fatalf("input has %d RequestAuthentications", len(in.RequestAuthentications))
	}
	ra := in.RequestAuthentications[0]
	if ra.Meta.String() != "web/jwt" || ra.Meta.Generation != 2 {
		t.Errorf("meta %+v", ra.Meta)
	}
	rules := model.Build(in).JWTRulesFor("web", map[string]string{"app": "a"})
	if len(rules) != 1 || rules[0].Rule.GetFromHeaders()[0].GetPrefix() != "Bearer " || rules[0].Rule.GetTimeout().AsDuration().Seconds() != 2 {
		t.Errorf("rules %+v", rules)
	}
	if sources := jwksSources(in.RequestAuthentications); sources[model.JWKSSource{Issuer: "https://issuer.example", URI: "https://issuer.example/jwks"}].Seconds() != 2 {
		t.Errorf("sources %v", sources)
	}
}
