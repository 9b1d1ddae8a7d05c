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
// deserializer), that the mix is the one the benchmark describes, and that
// every policy selects a workload a simulated proxy is.
func TestAuthzPoliciesValid(t *testing.T) {
	const n = 1000
	policies := authzPolicies(n)
	if len(policies) != n {
		t.Fatalf("%d policies, want %d", len(policies), n)
	}
	s := runtime.NewScheme()
	if err := securityv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	decoder := serializer.NewCodecFactory(s).UniversalDeserializer()
	workloads := map[string]bool{}
	for _, w := range authzWorkloads(n) {
		workloads[w.namespace+"/"+w.app] = true
	}
	names := map[string]bool{}
	actions := map[string]map[string]bool{} // workload -> actions selecting it
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
		action := p.Spec.GetAction().String()
		switch action {
		case "ALLOW":
			allow++
		case "DENY":
			deny++
		}
		if p.Spec.GetSelector() == nil {
			namespaceWide++
			continue
		}
		app := p.Spec.GetSelector().GetMatchLabels()["app"]
		selected := p.Namespace + "/" + app
		if !workloads[selected] {
			t.Errorf("%s selects app %q, which no simulated proxy is", key, app)
		}
		if app == clientsApp && p.Namespace == benchNamespace {
			onClients++
		}
		if actions[selected] == nil {
			actions[selected] = map[string]bool{}
		}
		actions[selected][action] = true
	}
	if want := authzTeams(n) + 1; len(namespaces) != want || namespaceWide != want {
		t.Errorf("%d namespaces, %d namespace-wide policies; want %d of each", len(namespaces), namespaceWide, want)
	}
	for w := range workloads {
		if !actions[w]["ALLOW"] || !actions[w]["DENY"] {
			t.Errorf("workload %s is selected by %v; want ALLOW and DENY policies", w, actions[w])
		}
	}
	if onClients == 0 || allow < n/3 || deny < n/3 {
		t.Errorf("mix: %d on the clients, %d ALLOW, %d DENY; want some on the clients and both actions in numbers", onClients, allow, deny)
	}
}

// TestAuthzRatios checks the comparison of the runs with policies to those without.
func TestAuthzRatios(t *testing.T) {
	withWorkloads := func(r *runResult, kb float64) *runResult {
		r.workloads = &workloadStats{proxies: 2, synced: 2, bytesPerProxy: kb * 1e3}
		return r
	}
	authz := withWorkloads(fakeRun("loom_authz", 1.5, 3, []float64{120}, []float64{50}, 110), 30)
	authz.coldSyncBytes = 2600
	authz.workloads.change = changeStats{latenciesMs: []float64{40, 60}, changes: 1}
	r := &report{opts: options{authzPolicies: 1000}, runs: []*runResult{
		withWorkloads(fakeRun("loom", 1.0, 2, []float64{100}, []float64{50}, 100), 20),
		authz,
		fakeRun("loom_delta", 1.0, 2, []float64{100}, []float64{40}, 100),
	}}
	j := r.json()
	want := map[string]any{
		"authz_policies": 1000, "loom_authz_cold_sync_ratio": 1.5, "loom_authz_vs_change_p99_ratio": 1.2,
		"loom_authz_ep_change_p99_ratio": 1.0, "loom_delta_authz_cold_sync_ratio": nil,
		"loom_authz_client_bytes_per_proxy_ratio": 1.3, "loom_authz_workload_bytes_per_proxy_ratio": 1.5,
		"loom_bytes_per_client_kb": 1.0, "loom_authz_bytes_per_client_kb": 1.3,
		"loom_workload_bytes_per_proxy_kb": 20.0, "loom_authz_authz_change_p99_ms": 60.0,
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
		"loom_authz_workload_bytes_per_proxy_ratio: 1.50 (loom with 1000 policies 30 KB / loom 20 KB)",
		"loom_authz AuthorizationPolicy change -> affected proxies' ACK: p50 40 ms p99 60 ms",
	} {
		if !strings.Contains(lines.String(), l) {
			t.Errorf("table lacks %q:\n%s", l, lines.String())
		}
	}
	if got := (&report{}).authzRatios(); got != nil {
		t.Errorf("without policies: %v, want no comparison", got)
	}
}
