package discovery

import (
	"fmt"
	"testing"
	"time"

	metav1alpha1 "istio.io/api/meta/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"
	clocktesting "k8s.io/utils/clock/testing"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/xds"
)

// newTestStatusWriter is a writer without a cluster: views maps view keys to proxies whose
// config was generated from generatedFrom.
func newTestStatusWriter(views map[string]model.Proxy, generatedFrom *model.Snapshot, proxies convergenceSource) *statusWriter {
	g := &generator{views: map[string]*viewState{}}
	for key, p := range views {
		g.views[key] = &viewState{proxy: p}
	}
	rec := newModelRecorder(g)
	for key := range views {
		rec.record(key, generatedFrom)
	}
	return &statusWriter{models: rec, xds: proxies, settle: time.Second,
		queue:   newStatusQueue(clocktesting.NewFakeClock(time.Unix(0, 0)), 1000, 1000000),
		written: map[model.ConfigRef]*metav1alpha1.IstioStatus{}, since: map[model.ConfigRef]versionSeen{},
		running: map[string]*modelGenerations{}}
}

func drain(q *statusQueue) []statusWrite {
	var out []statusWrite
	for {
		w, _, ok := q.take()
		if !ok {
			return out
		}
		out = append(out, w)
	}
}

func TestReconcileWritesOnlyChangesAfterTheObjectSettles(t *testing.T) {
	cur := vsModel(1)
	ref := model.ConfigRef{Kind: "VirtualService", Namespace: "web", Name: "reviews"}
	proxies := &switchableConvergence{}
	proxies.set(xds.ProxyConvergence{NodeID: "a", ViewKey: "web", Current: true})
	w := newTestStatusWriter(map[string]model.Proxy{"web": {Kind: model.KindGRPC, Namespace: "web"}}, cur, proxies)
	obj := observedObject{ref: ref, generation: 1, resourceVersion: "10", enforced: true, tracked: true, actedOn: true}
	objects := map[model.ConfigRef]observedObject{ref: obj}
	start := time.Unix(1000, 0)

	w.reconcile(cur, objects, nil, start)
	if got := drain(w.queue); len(got) != 0 {
		t.Fatalf("a resourceVersion just seen must settle first; queued %v", got)
	}
	w.reconcile(cur, objects, nil, start.Add(time.Second))
	got := drain(w.queue)
	if len(got) != 1 || reconciledMessageOf(got[0].status) != "programmed on 1 of 1 proxy" {
		t.Fatalf("queued %v, want one write with programmed on 1 of 1 proxy", got)
	}
	w.written[ref] = got[0].status // as write does
	w.reconcile(cur, objects, nil, start.Add(2*time.Second))
	if got := drain(w.queue); len(got) != 0 {
		t.Fatalf("an unchanged status was queued again: %v", got)
	}

	// A restarted writer (nothing written yet) finds the status on the object: no write.
	restarted := newTestStatusWriter(map[string]model.Proxy{"web": {Kind: model.KindGRPC, Namespace: "web"}}, cur, proxies)
	obj.status = got0(t, w, ref)
	restarted.reconcile(cur, map[model.ConfigRef]observedObject{ref: obj}, nil, start)
	restarted.reconcile(cur, map[model.ConfigRef]observedObject{ref: obj}, nil, start.Add(time.Second))
	if got := drain(restarted.queue); len(got) != 0 {
		t.Fatalf("the status the object already holds was written again: %v", got)
	}

	// The proxy rejects its config: one write, with the message.
	proxies.set(xds.ProxyConvergence{NodeID: "a", ViewKey: "web", Types: map[string]xds.TypeConvergence{"t": {Rejected: "bad cluster"}}})
	w.reconcile(cur, objects, nil, start.Add(3*time.Second))
	got = drain(w.queue)
	if len(got) != 1 || reconciledMessageOf(got[0].status) != "programmed on 0 of 1 proxy; 1 rejected it: bad cluster" {
		t.Fatalf("queued %v after the NACK", got)
	}

	// The object is deleted: its queued write goes, and so does what is remembered of it.
	proxies.set(xds.ProxyConvergence{NodeID: "a", ViewKey: "web", Current: true})
	w.reconcile(cur, objects, nil, start.Add(4*time.Second))
	w.reconcile(cur, map[model.ConfigRef]observedObject{}, nil, start.Add(5*time.Second))
	if got := drain(w.queue); len(got) != 0 || len(w.written) != 0 || len(w.since) != 0 {
		t.Fatalf("a deleted object is still queued (%v) or remembered (%d, %d)", got, len(w.written), len(w.since))
	}
}

func got0(t *testing.T, w *statusWriter, ref model.ConfigRef) *metav1alpha1.IstioStatus {
	t.Helper()
	st := w.written[ref]
	if st == nil {
		t.Fatal("nothing written")
	}
	return st
}

func reconciledMessageOf(st *metav1alpha1.IstioStatus) string {
	return conditionOf(st, ConditionReconciled).GetMessage()
}

// BenchmarkStatusReconcile is one period of the status writer at S=1000, M=1000: 1000
// VirtualServices and 1000 DestinationRules visible mesh-wide, 1000 proxies in 100 views
// (10 label sets in each of 10 namespaces). "steady" reuses what applies to each view
// (the model did not change); "model-changed" recomputes it.
func BenchmarkStatusReconcile(b *testing.B) {
	const services, proxiesPerView = 1000, 10
	in := model.Input{}
	objects := map[model.ConfigRef]observedObject{}
	for i := range services {
		m := model.Meta{Namespace: fmt.Sprintf("ns-%d", i%10), Name: fmt.Sprintf("svc-%d", i), Generation: 1}
		in.VirtualServices = append(in.VirtualServices, &model.VirtualService{Meta: m,
			Spec: &networking.VirtualService{Hosts: []string{m.Name}}})
		in.DestinationRules = append(in.DestinationRules, &model.DestinationRule{Meta: m,
			Spec: &networking.DestinationRule{Host: m.Name}})
		for _, kind := range []string{"VirtualService", "DestinationRule"} {
			ref := model.ConfigRef{Kind: kind, Namespace: m.Namespace, Name: m.Name}
			objects[ref] = observedObject{ref: ref, generation: 1, resourceVersion: "1", enforced: true, tracked: true, actedOn: true}
		}
	}
	cur := model.Build(in)
	views := map[string]model.Proxy{}
	var proxies []xds.ProxyConvergence
	for v := range 100 {
		key := fmt.Sprintf("view-%d", v)
		views[key] = model.Proxy{Kind: model.KindSidecar, Namespace: fmt.Sprintf("ns-%d", v%10), Labels: map[string]string{"app": key}}
		for p := range proxiesPerView {
			proxies = append(proxies, xds.ProxyConvergence{NodeID: fmt.Sprintf("%s-%d", key, p), ViewKey: key, Current: true})
		}
	}
	for _, mode := range []string{"steady", "model-changed"} {
		b.Run(mode, func(b *testing.B) {
			w := newTestStatusWriter(views, cur, fakeConvergence(proxies))
			now := time.Unix(0, 0)
			w.reconcile(cur, objects, nil, now)
			for b.Loop() {
				if mode == "model-changed" {
					w.appliesModel = nil
				}
				now = now.Add(time.Second)
				w.reconcile(cur, objects, nil, now)
				for _, sw := range drain(w.queue) {
					w.written[sw.ref] = sw.status // as write does
				}
			}
		})
	}
}
