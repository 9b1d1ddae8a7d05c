package discovery

import (
	"strings"
	"testing"
	"time"

	telemetry "istio.io/api/telemetry/v1alpha1"
	typev1beta1 "istio.io/api/type/v1beta1"

	"loom.dev/loom/pkg/model"
)

// Telemetry objects get the status of the other tracked kinds: Reconciled counts the Envoy
// proxies (sidecars here) each one applies to, never a proxyless gRPC one (gRPC-Go runs
// neither access logs nor tracing), and a namespace-wide Telemetry Istio ignores (a younger
// one beside an older) is Accepted False naming the field, with no proxies claimed.
func TestTelemetryStatusCountsTheEnvoyProxiesItApplies(t *testing.T) {
	created := func(minute int) time.Time { return time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC) }
	logs := func(selector map[string]string) *telemetry.Telemetry {
		spec := &telemetry.Telemetry{AccessLogging: []*telemetry.AccessLogging{{Providers: []*telemetry.ProviderRef{{Name: model.EnvoyLogProvider}}}}}
		if selector != nil {
			spec.Selector = &typev1beta1.WorkloadSelector{MatchLabels: selector}
		}
		return spec
	}
	policy := func(name string, gen int64, minute int, spec *telemetry.Telemetry) *model.TelemetryPolicy {
		return &model.TelemetryPolicy{Meta: model.Meta{Namespace: "web", Name: name, Generation: gen, Created: created(minute)}, Spec: spec}
	}
	cur := model.Build(model.Input{RootNamespace: "istio-system", Telemetries: []*model.TelemetryPolicy{
		policy("web-default", 1, 0, logs(nil)),
		policy("web-again", 1, 1, logs(nil)),
		policy("app-x", 2, 2, logs(map[string]string{"app": "x"})),
	}})
	views := map[string]model.Proxy{
		"sidecar-x": {Kind: model.KindSidecar, Namespace: "web", Labels: map[string]string{"app": "x"}},
		"sidecar-y": {Kind: model.KindSidecar, Namespace: "web", Labels: map[string]string{"app": "y"}},
		"grpc-x":    {Kind: model.KindGRPC, Namespace: "web", Labels: map[string]string{"app": "x"}},
	}
	proxies := fakeConvergence{
		{NodeID: "a", ViewKey: "sidecar-x", Current: true},
		{NodeID: "b", ViewKey: "sidecar-x"}, // its response is not ACKed yet
		{NodeID: "c", ViewKey: "sidecar-y", Current: true},
		{NodeID: "d", ViewKey: "grpc-x", Current: true},
	}
	w := newTestStatusWriter(views, cur, proxies)

	acted := cur.ConfigGenerations()
	objects := map[model.ConfigRef]observedObject{}
	for _, p := range []struct {
		name string
		gen  int64
	}{{"web-default", 1}, {"web-again", 1}, {"app-x", 2}} {
		ref := model.ConfigRef{Kind: model.KindTelemetry, Namespace: "web", Name: p.name}
		_, actedOn := acted[ref]
		objects[ref] = observedObject{ref: ref, generation: p.gen, resourceVersion: "1", enforced: true,
			tracked: trackedKinds[model.KindTelemetry], actedOn: actedOn}
	}
	problems := map[model.ConfigRef][]model.Problem{}
	for _, p := range cur.Problems() {
		ref := model.ConfigRef{Kind: p.Kind, Namespace: p.Meta.Namespace, Name: p.Meta.Name}
		problems[ref] = append(problems[ref], p)
	}
	start := time.Unix(1000, 0)
	w.reconcile(cur, objects, problems, start)
	w.reconcile(cur, objects, problems, start.Add(time.Second))
	written := map[string]statusWrite{}
	for _, sw := range drain(w.queue) {
		written[sw.ref.Name] = sw
	}

	for name, want := range map[string]struct {
		status, reason, message string
	}{
		// a and b select it, c does not; b has not ACKed.
		"app-x": {"False", ReasonInProgress, "programmed on 1 of 2 proxies"},
		// Every sidecar of web: a, b and c.
		"web-default": {"False", ReasonInProgress, "programmed on 2 of 3 proxies"},
	} {
		st := written[name].status
		c := conditionOf(st, ConditionReconciled)
		if c == nil {
			t.Errorf("Telemetry web/%s: no Reconciled condition in %v", name, st)
			continue
		}
		if c.GetStatus() != want.status || c.GetReason() != want.reason || c.GetMessage() != want.message {
			t.Errorf("Telemetry web/%s: Reconciled = %s %s %q, want %s %s %q", name, c.GetStatus(), c.GetReason(), c.GetMessage(),
				want.status, want.reason, want.message)
		}
		if st.GetObservedGeneration() != objects[model.ConfigRef{Kind: model.KindTelemetry, Namespace: "web", Name: name}].generation {
			t.Errorf("Telemetry web/%s: observedGeneration %d", name, st.GetObservedGeneration())
		}
	}

	ignored := written["web-again"].status
	a := conditionOf(ignored, ConditionAccepted)
	if a.GetStatus() != "False" || a.GetReason() != ReasonInvalid || !strings.Contains(a.GetMessage(), "spec: ignored: web/web-default is older") {
		t.Errorf("the ignored namespace-wide Telemetry: Accepted = %s %s %q, want False Invalid naming spec and web/web-default",
			a.GetStatus(), a.GetReason(), a.GetMessage())
	}
	if c := conditionOf(ignored, ConditionReconciled); c != nil {
		t.Errorf("the ignored namespace-wide Telemetry claims proxies: %q", c.GetMessage())
	}

	// Once b ACKs, both are programmed everywhere they apply.
	w2 := newTestStatusWriter(views, cur, fakeConvergence{proxies[0], {NodeID: "b", ViewKey: "sidecar-x", Current: true}, proxies[2], proxies[3]})
	w2.reconcile(cur, objects, problems, start)
	w2.reconcile(cur, objects, problems, start.Add(time.Second))
	for _, sw := range drain(w2.queue) {
		if sw.ref.Name == "web-again" {
			continue
		}
		if c := conditionOf(sw.status, ConditionReconciled); c.GetStatus() != "True" || c.GetReason() != ReasonProgrammed {
			t.Errorf("%s with every proxy ACKed: Reconciled = %s %s %q", sw.ref, c.GetStatus(), c.GetReason(), c.GetMessage())
		}
	}
}
