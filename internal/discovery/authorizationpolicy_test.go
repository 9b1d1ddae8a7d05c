package discovery

import (
	"testing"

	security "istio.io/api/security/v1beta1"

	"loom.dev/loom/pkg/model"
)

// An AuthorizationPolicy as the API server serves it (v1beta1 objects are
// served converted to the v1 storage version) reaches the model with its
// action and rules, and is no longer reported as not enforced.
func TestAuthorizationPolicyIsConverted(t *testing.T) {
	var kind istioKind
	for _, k := range istioKinds() {
		if k.gvk.Kind == "AuthorizationPolicy" {
			kind = k
		}
	}
	if !kind.enforced() || kind.gvk.Group != "security.istio.io" || kind.gvk.Version != "v1" || kind.crd != "authorizationpolicies.security.istio.io" {
		t.Fatalf("AuthorizationPolicy kind: %+v enforced=%v", kind.gvk, kind.enforced())
	}
	obj := map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
		"metadata": map[string]any{"name": "deny-path", "namespace": "web", "generation": int64(2)},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "a"}},
			"action":   "DENY",
			"rules": []any{map[string]any{
				"to": []any{map[string]any{"operation": map[string]any{"paths": []any{"/admin*"}}}},
			}},
		},
	}
	typed := kind.typed()
	if field, err := decodeIstio(obj, typed); err != nil {
		t.Fatalf("decode: %s: %v", field, err)
	}
	var in model.Input
	kind.add(&in, typed)
	if len(in.AuthorizationPolicies) != 1 {
		t.Fatalf("input has %d AuthorizationPolicies", len(in.AuthorizationPolicies))
	}
	ap := in.AuthorizationPolicies[0]
	if ap.Meta.String() != "web/deny-path" || ap.Meta.Generation != 2 || ap.Spec.GetAction() != security.AuthorizationPolicy_DENY ||
		ap.Spec.GetRules()[0].GetTo()[0].GetOperation().GetPaths()[0] != "/admin*" {
		t.Errorf("converted %+v", ap)
	}
	snap := model.Build(in)
	if got := snap.AuthorizationPoliciesFor("web", map[string]string{"app": "a"}); len(got) != 1 {
		t.Errorf("applies to %d policies, want 1", len(got))
	}
}
