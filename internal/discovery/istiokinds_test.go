package discovery

import (
	"slices"
	"testing"

	"loom.dev/loom/pkg/istiocrds"
	"loom.dev/loom/pkg/loomcrds"
	"loom.dev/loom/pkg/model"
)

// Every kind Loom installs a CRD for is watched: enforced, or reported.
func TestIstioKindsCoverEveryInstalledCRD(t *testing.T) {
	kinds := istioKinds()
	var enforced, reported []string
	for _, k := range kinds {
		if k.enforced() {
			enforced = append(enforced, k.gvk.Kind)
		} else {
			reported = append(reported, k.gvk.Kind)
		}
	}
	loom, err := loomcrds.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range append(istiocrds.CRDs(), loom...) {
		if !slices.ContainsFunc(kinds, func(k istioKind) bool { return k.crd == crd.Name && k.gvk.Kind == crd.Spec.Names.Kind }) {
			t.Errorf("CRD %s is not watched", crd.Name)
		}
	}
	slices.Sort(reported)
	if want := []string{"WorkloadGroup"}; !slices.Equal(reported, want) {
		t.Errorf("reported as not enforced: %v, want %v (enforced: %v)", reported, want, enforced)
	}
	for _, k := range kinds {
		if k.gvk.Group == "policy.loom.dev" {
			if k.gvk.Version != "v1alpha1" {
				t.Errorf("%s watched at %s, want v1alpha1", k.gvk.Kind, k.gvk.Version)
			}
			continue
		}
		if k.gvk.Version != "v1" {
			t.Errorf("%s watched at %s, want the stored v1", k.gvk.Kind, k.gvk.Version)
		}
	}
}

func TestEventLedgerRecordsOncePerGeneration(t *testing.T) {
	problem := func(name string, generation int64) model.Problem {
		return model.Problem{Kind: "AuthorizationPolicy", Meta: model.Meta{Namespace: "ns", Name: name, Generation: generation}, Message: "not enforced"}
	}
	var l eventLedger
	for i, s := range []struct {
		p    model.Problem
		want bool
	}{
		{problem("deny", 1), true},
		{problem("deny", 1), false}, // a rebuild finds it again
		{problem("allow", 1), true},
		{problem("deny", 1), false},
		{problem("deny", 2), true}, // the user changed it
		{problem("deny", 2), false},
	} {
		if got := l.first(s.p); got != s.want {
			t.Errorf("step %d (%s generation %d): first = %v, want %v", i, s.p.Meta, s.p.Meta.Generation, got, s.want)
		}
	}
}

// A PeerAuthentication as the API server serves it reaches the model with
// its selector, mode and port-level modes.
func TestPeerAuthenticationIsConverted(t *testing.T) {
	var kind istioKind
	for _, k := range istioKinds() {
		if k.gvk.Kind == "PeerAuthentication" {
			kind = k
		}
	}
	if !kind.enforced() || kind.gvk.Group != "security.istio.io" || kind.crd != "peerauthentications.security.istio.io" {
		t.Fatalf("PeerAuthentication kind: %+v", kind.gvk)
	}
	obj := map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
		"metadata": map[string]any{"name": "strict", "namespace": "web", "generation": int64(3)},
		"spec": map[string]any{
			"selector":      map[string]any{"matchLabels": map[string]any{"app": "a"}},
			"mtls":          map[string]any{"mode": "STRICT"},
			"portLevelMtls": map[string]any{"8080": map[string]any{"mode": "DISABLE"}},
		},
	}
	typed := kind.typed()
	if field, err := decodeIstio(obj, typed); err != nil {
		t.Fatalf("decode: %s: %v", field, err)
	}
	var in model.Input
	kind.add(&in, typed)
	if len(in.PeerAuthentications) != 1 {
		t.Fatalf("input has %d PeerAuthentications", len(in.PeerAuthentications))
	}
	pa := in.PeerAuthentications[0]
	if pa.Meta.String() != "web/strict" || pa.Meta.Generation != 3 {
		t.Errorf("meta %+v", pa.Meta)
	}
	m := model.ResolveMTLS("istio-system", model.MTLSPermissive, in.PeerAuthentications, "web", map[string]string{"app": "a"})
	if m.ForPort(80).Mode != model.MTLSStrict || m.ForPort(8080).Mode != model.MTLSDisable {
		t.Errorf("resolved %+v", m)
	}
}
