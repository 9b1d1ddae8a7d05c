package main

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"loom.dev/loom/pkg/validation"
)

// TestAuthzPoliciesValid checks that every generated policy passes Loom's
// validation without warnings and survives the decoding discovery applies to
// what the apiserver serves (the typed client's JSON, istio.io/client-go's
// deserializer), and that the mix is the one the benchmark describes.
func TestAuthzPoliciesValid(t *testing.T) {
	const n, services = 1000, 200
	policies := authzPolicies(n, services)
	if len(policies) != n {
		t.Fatalf("%d policies, want %d", len(policies), n)
	}
	s := runtime.NewScheme()
	if err := securityv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	decoder := serializer.NewCodecFactory(s).UniversalDeserializer()
	names := map[string]bool{}
	var namespaceWide, onClients, allow, deny int
	namespaces := map[string]bool{}
	for _, p := range policies {
		key := p.Namespace + "/" + p.Name
		if names[key] {
			t.Fatalf("%s twice", key)
		}
		names[key] = true
		namespaces[p.Namespace] = true
		if r := validation.AuthorizationPolicy(&p.Spec); !r.Valid() || len(r.Warnings) > 0 {
			t.Errorf("%s: errors %v, warnings %v", key, r.Errors, r.Warnings)
		}
		p.APIVersion, p.Kind = securityv1.SchemeGroupVersion.String(), "AuthorizationPolicy"
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		var back securityv1.AuthorizationPolicy
		if _, _, err := decoder.Decode(data, nil, &back); err != nil {
			t.Fatalf("%s does not decode: %v\n%s", key, err, data)
		}
		if !proto.Equal(&back.Spec, &p.Spec) {
			t.Errorf("%s changed in decoding:\n%s", key, data)
		}
		switch app := p.Spec.GetSelector().GetMatchLabels()["app"]; {
		case p.Spec.GetSelector() == nil:
			namespaceWide++
		case app == "client":
			onClients++
		case !strings.HasPrefix(app, "svc-"):
			t.Errorf("%s selects app %q, neither a service's workload nor the clients", key, app)
		}
		switch p.Spec.GetAction().String() {
		case "ALLOW":
			allow++
		case "DENY":
			deny++
		}
	}
	if want := authzTeams(n) + 1; len(namespaces) != want || namespaceWide != want {
		t.Errorf("%d namespaces, %d namespace-wide policies; want %d of each", len(namespaces), namespaceWide, want)
	}
	if onClients == 0 || allow < n/3 || deny < n/3 {
		t.Errorf("mix: %d on the clients, %d ALLOW, %d DENY; want some on the clients and both actions in numbers", onClients, allow, deny)
	}
}

// TestAuthzRatios checks the comparison of the runs with policies to those without.
func TestAuthzRatios(t *testing.T) {
	r := &report{opts: options{authzPolicies: 1000}, runs: []*runResult{
		fakeRun("loom", 1.0, 2, []float64{100}, []float64{50}, 100),
		fakeRun("loom_authz", 1.5, 3, []float64{120}, []float64{50}, 110),
		fakeRun("loom_delta", 1.0, 2, []float64{100}, []float64{40}, 100),
	}}
	j := r.json()
	want := map[string]any{
		"authz_policies": 1000, "loom_authz_cold_sync_ratio": 1.5, "loom_authz_vs_change_p99_ratio": 1.2,
		"loom_authz_ep_change_p99_ratio": 1.0, "loom_delta_authz_cold_sync_ratio": nil,
	}
	for k, v := range want {
		if got, ok := j[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	var lines strings.Builder
	r.printTable(&lines)
	for _, l := range []string{
		"loom_authz_cold_sync_ratio: 1.50 (loom with 1000 policies 1.50 s / loom 1.00 s)",
		"loom_delta_authz_cold_sync_ratio: not measured (loom_delta_authz did not run)",
	} {
		if !strings.Contains(lines.String(), l) {
			t.Errorf("table lacks %q:\n%s", l, lines.String())
		}
	}
	if got := (&report{}).authzRatios(); got != nil {
		t.Errorf("without policies: %v, want no comparison", got)
	}
}
