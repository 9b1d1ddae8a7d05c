package discovery

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	metav1alpha1 "istio.io/api/meta/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/xds"
)

type fakeConvergence []xds.ProxyConvergence

func (f fakeConvergence) Convergence() []xds.ProxyConvergence { return f }

func vsModel(gen int64, exportTo ...string) *model.Snapshot {
	return model.Build(model.Input{VirtualServices: []*model.VirtualService{{
		Meta: model.Meta{Namespace: "web", Name: "reviews", Generation: gen},
		Spec: &networking.VirtualService{Hosts: []string{"reviews"}, ExportTo: exportTo},
	}}})
}

// statusFromProxies runs the writer's computation for the VirtualService web/reviews at
// generation gen: the current model is cur, views maps each view key to its proxy and the
// model its config was generated from, and proxies is the xDS server's summary.
func statusFromProxies(t *testing.T, gen int64, cur *model.Snapshot, views map[string]viewFixture, proxies fakeConvergence) *metav1alpha1.IstioStatus {
	t.Helper()
	g := &generator{views: map[string]*viewState{}}
	rec := newModelRecorder(g)
	for key, v := range views {
		g.views[key] = &viewState{proxy: v.proxy}
		if v.generatedFrom != nil {
			rec.record(key, v.generatedFrom)
		}
	}
	w := &statusWriter{models: rec, xds: proxies, running: map[string]*modelGenerations{}}
	ref := model.ConfigRef{Kind: "VirtualService", Namespace: "web", Name: "reviews"}
	counts := countProxies(w.views(cur), func(model.ConfigRef) int64 { return gen })
	_, acted := cur.ConfigGenerations()[ref]
	obj := observedObject{ref: ref, generation: gen, enforced: true, tracked: true, actedOn: acted}
	return desiredStatus(obj, nil, counts[ref], time.Unix(100, 0))
}

type viewFixture struct {
	proxy         model.Proxy
	generatedFrom *model.Snapshot
}

func reconciled(t *testing.T, st *metav1alpha1.IstioStatus) *metav1alpha1.IstioCondition {
	t.Helper()
	c := conditionOf(st, ConditionReconciled)
	if c == nil {
		t.Fatalf("no Reconciled condition in %v", st)
	}
	return c
}

func TestStatusCountsProxiesOfTheCurrentGeneration(t *testing.T) {
	web := model.Proxy{Kind: model.KindGRPC, Namespace: "web"}
	other := model.Proxy{Kind: model.KindGRPC, Namespace: "other"}
	cur := vsModel(2)
	views := map[string]viewFixture{
		"web":   {proxy: web, generatedFrom: cur},
		"stale": {proxy: web, generatedFrom: vsModel(1)},
		"other": {proxy: other, generatedFrom: cur},
	}
	proxies := fakeConvergence{
		{NodeID: "a", ViewKey: "web", Current: true},
		{NodeID: "b", ViewKey: "web", Current: false}, // a response not yet ACKed
		{NodeID: "c", ViewKey: "stale", Current: true},
		{NodeID: "d", ViewKey: "other", Current: true},
	}
	st := statusFromProxies(t, 2, cur, views, proxies)
	c := reconciled(t, st)
	// d sees the VirtualService too (exported everywhere); c runs generation 1.
	if c.GetStatus() != "False" || c.GetReason() != ReasonInProgress || c.GetMessage() != "programmed on 2 of 4 proxies" {
		t.Errorf("Reconciled = %s %s %q, want False InProgress \"programmed on 2 of 4 proxies\"", c.GetStatus(), c.GetReason(), c.GetMessage())
	}
	if st.GetObservedGeneration() != 2 || c.GetObservedGeneration() != 2 {
		t.Errorf("observedGeneration = %d (condition %d), want 2", st.GetObservedGeneration(), c.GetObservedGeneration())
	}

	// Private to web: the proxy in other does not count.
	private := vsModel(2, ".")
	views = map[string]viewFixture{"web": {proxy: web, generatedFrom: private}, "other": {proxy: other, generatedFrom: private}}
	st = statusFromProxies(t, 2, private, views, fakeConvergence{{NodeID: "a", ViewKey: "web", Current: true}, {NodeID: "d", ViewKey: "other", Current: true}})
	if c := reconciled(t, st); c.GetStatus() != "True" || c.GetReason() != ReasonProgrammed || c.GetMessage() != "programmed on 1 of 1 proxy" {
		t.Errorf("Reconciled = %s %s %q, want True Programmed \"programmed on 1 of 1 proxy\"", c.GetStatus(), c.GetReason(), c.GetMessage())
	}
}

func TestStatusReportsRejections(t *testing.T) {
	web := model.Proxy{Kind: model.KindGRPC, Namespace: "web"}
	cur := vsModel(1)
	nack := func(msg string) map[string]xds.TypeConvergence {
		return map[string]xds.TypeConvergence{"type.googleapis.com/envoy.config.cluster.v3.Cluster": {Rejected: msg}}
	}
	proxies := fakeConvergence{
		{NodeID: "a", ViewKey: "web", Current: true},
		{NodeID: "b", ViewKey: "web", Types: nack("cluster outbound|80||reviews: certificate provider instance \"default\" missing")},
		{NodeID: "c", ViewKey: "web", Types: nack("another message")},
	}
	st := statusFromProxies(t, 1, cur, map[string]viewFixture{"web": {proxy: web, generatedFrom: cur}}, proxies)
	c := reconciled(t, st)
	want := `programmed on 1 of 3 proxies; 2 rejected it: cluster outbound|80||reviews: certificate provider instance "default" missing`
	if c.GetStatus() != "False" || c.GetReason() != ReasonRejected || c.GetMessage() != want {
		t.Errorf("Reconciled = %s %s %q, want False Rejected %q", c.GetStatus(), c.GetReason(), c.GetMessage(), want)
	}
}

func TestStatusWithoutProxiesOrModel(t *testing.T) {
	cur := vsModel(1)
	st := statusFromProxies(t, 1, cur, nil, nil)
	if c := reconciled(t, st); c.GetStatus() != "True" || c.GetMessage() != "programmed on 0 of 0 proxies" {
		t.Errorf("no proxies: Reconciled = %s %q", c.GetStatus(), c.GetMessage())
	}
	// A view whose config was never generated runs nothing of the object.
	web := model.Proxy{Kind: model.KindGRPC, Namespace: "web"}
	st = statusFromProxies(t, 1, cur, map[string]viewFixture{"web": {proxy: web}}, fakeConvergence{{NodeID: "a", ViewKey: "web", Current: true}})
	if c := reconciled(t, st); c.GetStatus() != "False" || c.GetMessage() != "programmed on 0 of 1 proxy" {
		t.Errorf("never generated: Reconciled = %s %q", c.GetStatus(), c.GetMessage())
	}
}

func TestAcceptedNamesProblemsAndFields(t *testing.T) {
	ref := model.ConfigRef{Kind: "VirtualService", Namespace: "web", Name: "reviews"}
	meta := func(gen int64) model.Meta { return model.Meta{Namespace: "web", Name: "reviews", Generation: gen} }
	problems := []model.Problem{
		{Kind: "VirtualService", Meta: meta(3), Field: "spec.http[0].route[1].weight", Message: "weights must sum to 100"},
		{Kind: "VirtualService", Meta: meta(2), Field: "spec.hosts[0]", Message: "an old generation's problem"},
	}
	left := desiredStatus(observedObject{ref: ref, generation: 3, enforced: true, tracked: true}, problems, nil, time.Unix(1, 0))
	a := conditionOf(left, ConditionAccepted)
	if a.GetStatus() != "False" || a.GetReason() != ReasonInvalid || a.GetMessage() != "spec.http[0].route[1].weight: weights must sum to 100" {
		t.Errorf("left out: Accepted = %s %s %q", a.GetStatus(), a.GetReason(), a.GetMessage())
	}
	if conditionOf(left, ConditionReconciled) != nil {
		t.Error("an object the model left out must not claim to be programmed anywhere")
	}
	partial := desiredStatus(observedObject{ref: ref, generation: 3, enforced: true, tracked: true, actedOn: true}, problems, nil, time.Unix(1, 0))
	if a := conditionOf(partial, ConditionAccepted); a.GetReason() != ReasonPartiallyInvalid || !strings.Contains(a.GetMessage(), "spec.http[0].route[1].weight") {
		t.Errorf("partly skipped: Accepted = %s %q", a.GetReason(), a.GetMessage())
	}
	notEnforced := desiredStatus(observedObject{ref: ref, generation: 1},
		[]model.Problem{{Kind: "VirtualService", Meta: meta(1), Message: "not enforced: ..."}}, nil, time.Unix(1, 0))
	if a := conditionOf(notEnforced, ConditionAccepted); a.GetReason() != ReasonNotEnforced || len(notEnforced.GetConditions()) != 1 {
		t.Errorf("not enforced kind: %v", notEnforced)
	}
	ok := desiredStatus(observedObject{ref: ref, generation: 4, enforced: true}, problems, nil, time.Unix(1, 0))
	if a := conditionOf(ok, ConditionAccepted); a.GetStatus() != "True" {
		t.Errorf("problems of other generations count: %v", a)
	}
}

func TestStatusKeepsTransitionTimesAndComparesWithoutThem(t *testing.T) {
	ref := model.ConfigRef{Kind: "VirtualService", Namespace: "web", Name: "reviews"}
	first := desiredStatus(observedObject{ref: ref, generation: 1, enforced: true}, nil, nil, time.Unix(1, 0))
	later := desiredStatus(observedObject{ref: ref, generation: 1, enforced: true, status: first}, nil, nil, time.Unix(50, 0))
	if got := conditionOf(later, ConditionAccepted).GetLastTransitionTime().AsTime(); !got.Equal(time.Unix(1, 0)) {
		t.Errorf("lastTransitionTime moved to %v without a transition", got)
	}
	if !sameStatus(first, later) {
		t.Error("equal statuses compare different")
	}
	moved := desiredStatus(observedObject{ref: ref, generation: 1, enforced: true}, nil, nil, time.Unix(99, 0))
	moved.Conditions[0].LastProbeTime = timestamppb.New(time.Unix(99, 0))
	if !sameStatus(first, moved) {
		t.Error("timestamps alone must not cause a write")
	}
	if sameStatus(first, desiredStatus(observedObject{ref: ref, generation: 2, enforced: true}, nil, nil, time.Unix(1, 0))) {
		t.Error("a new observedGeneration compares equal")
	}
	if sameStatus(nil, first) {
		t.Error("no status compares equal to one")
	}
}

func TestReconciledMessageIsBounded(t *testing.T) {
	msg := reconciledMessage(proxyCounts{total: 120, programmed: 118, rejected: 2, firstRejection: strings.Repeat("x", 5000)})
	if len(msg) != maxMessage || !strings.HasPrefix(msg, "programmed on 118 of 120 proxies; 2 rejected it: xxx") || !strings.HasSuffix(msg, "...") {
		t.Errorf("message of %d bytes: %.80q", len(msg), msg)
	}
}

func TestStatusRoundTripsThroughIstioJSON(t *testing.T) {
	st := desiredStatus(observedObject{ref: model.ConfigRef{Kind: "VirtualService"}, generation: 7, enforced: true, tracked: true, actedOn: true},
		nil, &proxyCounts{total: 1, programmed: 1}, time.Unix(1, 0))
	data, err := st.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back := &metav1alpha1.IstioStatus{}
	if err := back.UnmarshalJSON(data); err != nil {
		t.Fatalf("Istio's clients cannot read what is written: %v\n%s", err, data)
	}
	if !sameStatus(st, back) {
		t.Errorf("round trip changed the status:\n%s", data)
	}
}

// A push in flight to a proxy does not make it stop running the objects it already runs;
// it runs an object's new generation once it is current with a model that has it.
func TestStatusFollowsWhatEachProxyRuns(t *testing.T) {
	web := model.Proxy{Kind: model.KindGRPC, Namespace: "web"}
	g := &generator{views: map[string]*viewState{"web": {proxy: web}}}
	rec := newModelRecorder(g)
	src := &switchableConvergence{}
	w := &statusWriter{models: rec, xds: src, running: map[string]*modelGenerations{}}
	ref := model.ConfigRef{Kind: "VirtualService", Namespace: "web", Name: "reviews"}
	programmed := func(cur *model.Snapshot, gen int64) int {
		if c := countProxies(w.views(cur), func(model.ConfigRef) int64 { return gen })[ref]; c != nil {
			return c.programmed
		}
		return 0
	}

	gen1 := vsModel(1)
	rec.record("web", gen1)
	src.set(xds.ProxyConvergence{NodeID: "a", ViewKey: "web", Current: true})
	if got := programmed(gen1, 1); got != 1 {
		t.Fatalf("current with generation 1: programmed on %d, want 1", got)
	}
	// An unrelated push is in flight: the proxy still runs generation 1.
	src.set(xds.ProxyConvergence{NodeID: "a", ViewKey: "web", Current: false})
	if got := programmed(gen1, 1); got != 1 {
		t.Errorf("push in flight: programmed on %d, want 1 (it still runs generation 1)", got)
	}
	// Generation 2 is generated for the view but not yet ACKed.
	gen2 := vsModel(2)
	rec.record("web", gen2)
	if got := programmed(gen2, 2); got != 0 {
		t.Errorf("generation 2 not ACKed: programmed on %d, want 0", got)
	}
	src.set(xds.ProxyConvergence{NodeID: "a", ViewKey: "web", Current: true})
	if got := programmed(gen2, 2); got != 1 {
		t.Errorf("generation 2 ACKed: programmed on %d, want 1", got)
	}
	// A proxy that disconnects is forgotten; reconnected and not yet current, it runs nothing known.
	src.set()
	programmed(gen2, 2)
	src.set(xds.ProxyConvergence{NodeID: "a", ViewKey: "web", Current: false})
	if got := programmed(gen2, 2); got != 0 {
		t.Errorf("reconnected, not yet current: programmed on %d, want 0", got)
	}
}

type switchableConvergence struct{ proxies []xds.ProxyConvergence }

func (s *switchableConvergence) set(p ...xds.ProxyConvergence)       { s.proxies = p }
func (s *switchableConvergence) Convergence() []xds.ProxyConvergence { return s.proxies }
