package translate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	security "istio.io/api/security/v1beta1"
	telemetry "istio.io/api/telemetry/v1alpha1"
	typev1beta1 "istio.io/api/type/v1beta1"

	"loom.dev/loom/pkg/model"
)

// The claim behind scoped pushes (model.PolicyKind, PolicyConfigsFor): a change of a
// policy object leaves the config of every proxy that neither the old nor the new model
// says depends on it exactly as it was. Checked with the real translator over random
// changes (create, delete, new spec, new selector) of the four policy kinds, for sidecars,
// a gateway and proxyless gRPC servers and clients.
func TestPolicyChangesReachOnlyTheProxiesTheySelect(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 12))
	proxies := policyScopeProxies()
	var policies []policyObject
	for i := range 8 {
		policies = append(policies, randomPolicy(t, rng, i))
	}
	before := model.Build(policyScopeInput(policies))
	unaffectedChecked, affectedChanged := 0, 0
	for step := range 300 {
		next, changed := mutatePolicies(t, rng, policies, 100+step)
		after := model.Build(policyScopeInput(next))
		for _, p := range proxies {
			_, dependedOn := before.PolicyConfigsFor(p)[changed]
			_, dependsOn := after.PolicyConfigsFor(p)[changed]
			same := sameOutput(before, after, p)
			if !dependedOn && !dependsOn {
				unaffectedChecked++
				if !same {
					t.Fatalf("step %d: %s changed the config of %s/%s %v, which it does not select before or after", step, changed, p.Kind, p.Namespace, p.Labels)
				}
			} else if !same {
				affectedChanged++
			}
		}
		policies, before = next, after
	}
	// Not vacuous: many proxies were left out, and changes did reach the selected ones.
	if unaffectedChecked < 300 || affectedChanged < 100 {
		t.Fatalf("only %d unaffected proxy-changes checked and %d selected proxies' configs changed", unaffectedChecked, affectedChanged)
	}
}

// policyObject is one object of a policy kind in the test's mesh.
type policyObject struct {
	ref model.ConfigRef
	ap  *model.AuthorizationPolicy
	ra  *model.RequestAuthentication
	rl  *model.RateLimitPolicy
	tel *model.TelemetryPolicy
}

var policyScopeNamespaces = []string{"istio-system", "foo", "bar"}

func policyScopeProxies() []model.Proxy {
	return []model.Proxy{
		fxSidecarProxy("foo", map[string]string{"app": "httpbin"}, "10.0.0.1"),
		fxSidecarProxy("foo", map[string]string{"app": "other"}, "10.0.0.9"),
		fxSidecarProxy("bar", map[string]string{"app": "web"}, "10.0.1.1"),
		fxGatewayProxy(),
		{ID: "grpc~foo", Kind: model.KindGRPC, Namespace: "foo", Labels: map[string]string{"app": "grpcsvc"}, IPs: []string{"10.0.2.1"}},
		{ID: "grpc~bar", Kind: model.KindGRPC, Namespace: "bar", Labels: map[string]string{"app": "client"}},
	}
}

func policyScopeInput(policies []policyObject) model.Input {
	in := model.Input{
		RootNamespace: "istio-system",
		Services: []*model.Service{
			fxService("httpbin", "foo", "10.96.0.1", []model.Port{fxPort("http", 8000, model.ProtocolHTTP), fxPort("tcp", 9000, model.ProtocolTCP)}, "10.0.0.1"),
			fxService("web", "bar", "10.96.0.2", []model.Port{fxPort("http", 80, model.ProtocolHTTP)}, "10.0.1.1"),
			fxService("grpcsvc", "foo", "10.96.0.3", []model.Port{fxPort("grpc", 7070, model.ProtocolGRPC)}, "10.0.2.1"),
		},
		Gateways: []*model.Gateway{fxGateway("gw", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "*"))},
	}
	for _, p := range policies {
		switch {
		case p.ap != nil:
			in.AuthorizationPolicies = append(in.AuthorizationPolicies, p.ap)
		case p.ra != nil:
			in.RequestAuthentications = append(in.RequestAuthentications, p.ra)
		case p.rl != nil:
			in.RateLimitPolicies = append(in.RateLimitPolicies, p.rl)
		case p.tel != nil:
			in.Telemetries = append(in.Telemetries, p.tel)
		}
	}
	return in
}

// mutatePolicies makes one random change and returns the new set and the object changed.
func mutatePolicies(t *testing.T, rng *rand.Rand, policies []policyObject, seq int) ([]policyObject, model.ConfigRef) {
	next := slices.Clone(policies)
	switch op := rng.IntN(3); {
	case op == 0 || len(next) < 3: // create
		p := randomPolicy(t, rng, seq)
		return append(next, p), p.ref
	case op == 1: // delete
		i := rng.IntN(len(next))
		ref := next[i].ref
		return slices.Delete(next, i, i+1), ref
	default: // a new spec (and selector) for the same object
		i := rng.IntN(len(next))
		old := next[i]
		p := randomPolicyOf(t, rng, old.ref.Kind, old.ref.Namespace, old.ref.Name, seq)
		next[i] = p
		return next, old.ref
	}
}

var policyScopeKinds = []string{model.KindAuthorizationPolicy, model.KindRequestAuthentication, model.KindRateLimitPolicy, model.KindTelemetry}

func randomPolicy(t *testing.T, rng *rand.Rand, seq int) policyObject {
	kind := policyScopeKinds[rng.IntN(len(policyScopeKinds))]
	ns := policyScopeNamespaces[rng.IntN(len(policyScopeNamespaces))]
	return randomPolicyOf(t, rng, kind, ns, fmt.Sprintf("p%d", seq), seq)
}

// randomSelection is a selector (nil: none) or a Service target in namespace ns.
func randomSelection(rng *rand.Rand, ns string) (map[string]string, string) {
	switch rng.IntN(8) {
	case 0, 1:
		return nil, ""
	case 2:
		return nil, map[string]string{"foo": "httpbin", "bar": "web", "istio-system": "httpbin"}[ns]
	}
	apps := []map[string]string{{"app": "httpbin"}, {"app": "web"}, {"app": "grpcsvc"}, {"app": "client"}, {"istio": "ingressgateway"}, {"app": "nothing"}}
	return apps[rng.IntN(len(apps))], ""
}

func randomPolicyOf(t *testing.T, rng *rand.Rand, kind, ns, name string, seq int) policyObject {
	meta := model.Meta{Namespace: ns, Name: name, Created: fxCreated(seq % 60), Generation: int64(seq)}
	selector, target := randomSelection(rng, ns)
	var ws *typev1beta1.WorkloadSelector
	if selector != nil {
		ws = &typev1beta1.WorkloadSelector{MatchLabels: selector}
	}
	var targets []*typev1beta1.PolicyTargetReference
	if target != "" {
		targets = []*typev1beta1.PolicyTargetReference{{Kind: "Service", Name: target}}
	}
	o := policyObject{ref: model.ConfigRef{Kind: kind, Namespace: ns, Name: name}}
	switch kind {
	case model.KindAuthorizationPolicy:
		spec := mkSpec(t, fmt.Sprintf(`{"action": %q, "rules": [{"to": [{"operation": {"paths": ["/p%d"]}}]}]}`,
			[]string{"ALLOW", "DENY"}[rng.IntN(2)], rng.IntN(1000)), &security.AuthorizationPolicy{})
		spec.Selector, spec.TargetRefs = ws, targets
		o.ap = &model.AuthorizationPolicy{Meta: meta, Spec: spec}
	case model.KindRequestAuthentication:
		spec := mkSpec(t, fmt.Sprintf(`{"jwtRules": [{"issuer": "https://issuer%d.example", "jwks": %q}]}`, rng.IntN(1000), testJWKS), &security.RequestAuthentication{})
		spec.Selector, spec.TargetRefs = ws, targets
		o.ra = &model.RequestAuthentication{Meta: meta, Spec: spec}
	case model.KindRateLimitPolicy:
		spec := model.RateLimitPolicySpec{Selector: selector, Rules: []model.RateLimitRule{{Limit: perSecond(int64(1 + rng.IntN(1000)))}}}
		if target != "" {
			spec.TargetRefs = []model.RateLimitTargetRef{{Kind: "Service", Name: target}}
		}
		o.rl = &model.RateLimitPolicy{Meta: meta, Spec: &spec}
	case model.KindTelemetry:
		spec := &telemetry.Telemetry{Selector: ws, TargetRefs: targets, AccessLogging: []*telemetry.AccessLogging{{
			Providers: []*telemetry.ProviderRef{{Name: "envoy"}},
			Filter:    &telemetry.AccessLogging_Filter{Expression: fmt.Sprintf("response.code >= %d", 400+rng.IntN(100))},
		}}}
		o.tel = &model.TelemetryPolicy{Meta: meta, Spec: spec}
	}
	return o
}

// sameOutput reports whether a proxy's resources and problems are the same in both models.
func sameOutput(before, after *model.Snapshot, p model.Proxy) bool {
	r1, ps1 := ForProxy(before, p)
	r2, ps2 := ForProxy(after, p)
	return sameResources(r1, r2) && slices.EqualFunc(ps1, ps2, sameProblem)
}
