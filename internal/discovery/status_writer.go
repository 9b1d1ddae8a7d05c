package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	metav1alpha1 "istio.io/api/meta/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	apitypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/xds"
)

// StatusFieldManager is the field manager of the status Loom writes on Istio objects.
const StatusFieldManager = "loom-discovery-status"

// StatusOptions tune the status writer; zero values take the defaults.
type StatusOptions struct {
	// Period is how often statuses are computed (default 1s): a change shows within a period
	// plus the queue's wait.
	Period time.Duration
	// WritesPerSecond and Burst bound the status writes sent to the apiserver (default 20/s,
	// burst 20); writes waiting their turn are coalesced per object.
	WritesPerSecond float64
	Burst           int
	// Settle is how long an object must keep a resourceVersion before its status is written
	// (default 1s): a burst of edits gets one write, and a client that just wrote the object
	// sees the resourceVersion it wrote in discovery's model (/debug/configz) before Loom's
	// own status write replaces it.
	Settle time.Duration
	// LeaseNamespace and LeaseIdentity, when both set, make this replica write status only
	// while it holds the Lease StatusLeaseName there (its pod name as identity).
	LeaseNamespace, LeaseIdentity string
}

// trackedKinds are the kinds whose proxies model.ConfigsFor follows: they get a Reconciled
// condition with proxy counts. Other kinds get observedGeneration and Accepted only.
var trackedKinds = map[string]bool{
	"VirtualService": true, "DestinationRule": true, "Gateway": true, "Sidecar": true,
	model.KindPeerAuthentication: true, model.KindAuthorizationPolicy: true, model.KindRequestAuthentication: true,
	model.KindRateLimitPolicy: true, model.KindTelemetry: true,
}

type versionSeen struct {
	resourceVersion string
	at              time.Time
}

// convergenceSource is the xDS server as the writer reads it.
type convergenceSource interface {
	Convergence() []xds.ProxyConvergence
}

// statusWriter writes status on the Istio objects discovery serves: observedGeneration,
// Accepted and, for the kinds it follows, Reconciled with how many of the proxies the object
// applies to run its current generation and how many rejected their config. It computes
// every status each period, and queues a write only for an object whose status differs
// from both what it last wrote and what the object holds.
type statusWriter struct {
	reader   client.Reader // the informer cache
	dynamic  dynamic.Interface
	istio    istioWatch
	models   *modelRecorder
	xds      convergenceSource
	problems *problemLog
	queue    *statusQueue
	clock    clock.WithTicker
	period   time.Duration
	settle   time.Duration
	log      logr.Logger
	writes   *prometheus.CounterVec

	// peers, if set, publishes this pod's counts and adds the other control-plane pods'.
	peers *peerConvergence
	// standby: this replica computes (and publishes) counts but does not write status; lead
	// clears it while it runs.
	standby atomic.Bool

	mu      sync.Mutex
	written map[model.ConfigRef]*metav1alpha1.IstioStatus
	// since is when each object was first seen at its current resourceVersion.
	since map[model.ConfigRef]versionSeen

	// Caches of the computing goroutine: what applies to each view under appliesModel, and
	// the generations of the objects actedModel (the current model) acts on.
	appliesModel *model.Snapshot
	applies      map[string]map[model.ConfigRef]struct{}
	actedModel   *model.Snapshot
	acted        map[model.ConfigRef]int64
	// running is the model each connected proxy (node id) was last seen running the config of.
	running map[string]*modelGenerations
	// decoded is each object's status as last decoded, at its resourceVersion then.
	decoded map[model.ConfigRef]decodedStatus
}

type decodedStatus struct {
	resourceVersion string
	status          *metav1alpha1.IstioStatus
}

func newStatusWriter(p *pipeline, models *modelRecorder, srv convergenceSource, dyn dynamic.Interface, opts StatusOptions, log logr.Logger, reg prometheus.Registerer) *statusWriter {
	if opts.Period <= 0 {
		opts.Period = time.Second
	}
	if opts.WritesPerSecond <= 0 {
		opts.WritesPerSecond = 20
	}
	if opts.Burst <= 0 {
		opts.Burst = 20
	}
	if opts.Settle <= 0 {
		opts.Settle = time.Second
	}
	writes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loom_status_writes_total",
		Help: "Status writes on Istio objects, by result (written, gone, failed)."}, []string{"result"})
	if reg != nil {
		reg.MustRegister(writes)
	}
	c := clock.RealClock{}
	return &statusWriter{reader: p.cache, dynamic: dyn, istio: p.istio, models: models, xds: srv, problems: p.generator.problems,
		queue: newStatusQueue(c, opts.WritesPerSecond, opts.Burst), clock: c, period: opts.Period, settle: opts.Settle, log: log, writes: writes,
		written: map[model.ConfigRef]*metav1alpha1.IstioStatus{}, since: map[model.ConfigRef]versionSeen{}, running: map[string]*modelGenerations{}}
}

// lead makes this replica write the statuses run computes, until ctx is done.
func (w *statusWriter) lead(ctx context.Context) error {
	// What another replica wrote meanwhile is on the objects, not here.
	w.mu.Lock()
	w.written = map[model.ConfigRef]*metav1alpha1.IstioStatus{}
	w.mu.Unlock()
	w.standby.Store(false)
	defer w.standby.Store(true)
	w.queue.run(ctx, w.write)
	return nil
}

// run computes statuses every period until ctx is done (and publishes this pod's counts
// for the replica that writes); they are written while lead runs. Call it once the caches
// have synced.
func (w *statusWriter) run(ctx context.Context) error {
	if w.peers != nil {
		go w.peers.run(ctx)
	}
	t := w.clock.NewTicker(w.period)
	defer t.Stop()
	for {
		if err := w.sync(ctx); err != nil {
			w.log.Error(err, "computing object status failed; trying again next period")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// sync computes every object's status and queues the writes that change something.
func (w *statusWriter) sync(ctx context.Context) error {
	cur := w.models.snapshots.get(ctx)
	objects, err := w.observe(ctx, cur)
	if err != nil {
		return err
	}
	w.reconcile(cur, objects, w.problems.byObject(), w.clock.Now())
	return nil
}

// reconcile computes the status of every object and queues those that differ from both what
// was last written and what the object holds.
func (w *statusWriter) reconcile(cur *model.Snapshot, objects map[model.ConfigRef]observedObject, problems map[model.ConfigRef][]model.Problem, now time.Time) {
	generation := func(ref model.ConfigRef) int64 { return objects[ref].generation }
	counts := countProxies(w.views(cur), generation)
	if w.peers != nil {
		w.peers.setLocal(counts, generation)
		counts = w.peers.withPeers(counts, generation)
	}
	if w.standby.Load() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for ref, obj := range objects {
		if seen, ok := w.since[ref]; !ok || seen.resourceVersion != obj.resourceVersion {
			w.since[ref] = versionSeen{resourceVersion: obj.resourceVersion, at: now}
		}
		if now.Sub(w.since[ref].at) < w.settle {
			w.queue.drop(ref)
			continue
		}
		want := desiredStatus(obj, problems[ref], counts[ref], now)
		switch {
		case sameStatus(w.written[ref], want):
			w.queue.drop(ref)
		case sameStatus(obj.status, want):
			w.written[ref] = obj.status
			w.queue.drop(ref)
		default:
			w.queue.add(statusWrite{ref: ref, status: want})
		}
	}
	for ref := range w.since {
		if _, ok := objects[ref]; !ok {
			delete(w.written, ref)
			delete(w.since, ref)
			w.queue.drop(ref)
		}
	}
}

// observe lists the Istio objects discovery watches, from the cache.
func (w *statusWriter) observe(ctx context.Context, cur *model.Snapshot) (map[model.ConfigRef]observedObject, error) {
	acted := w.actedOn(cur)
	out := map[model.ConfigRef]observedObject{}
	decoded := make(map[model.ConfigRef]decodedStatus, len(w.decoded))
	defer func() { w.decoded = decoded }()
	for _, k := range w.istio.inputs.activeKinds() {
		kind := k.gvk.Kind
		if !k.enforced() {
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(kind + "List"))
			if err := w.reader.List(ctx, list); err != nil {
				return nil, fmt.Errorf("list %s: %w", kind, err)
			}
			for i := range list.Items {
				o := &list.Items[i]
				ref := model.ConfigRef{Kind: kind, Namespace: o.Namespace, Name: o.Name}
				out[ref] = observedObject{ref: ref, generation: o.Generation, resourceVersion: o.ResourceVersion}
			}
			continue
		}
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(kind + "List"))
		if err := w.reader.List(ctx, list); err != nil {
			return nil, fmt.Errorf("list %s: %w", kind, err)
		}
		for i := range list.Items {
			o := &list.Items[i]
			ref := model.ConfigRef{Kind: kind, Namespace: o.GetNamespace(), Name: o.GetName()}
			_, actedOn := acted[ref]
			d, ok := w.decoded[ref]
			if !ok || d.resourceVersion != o.GetResourceVersion() {
				d = decodedStatus{resourceVersion: o.GetResourceVersion(), status: statusOf(o)}
			}
			decoded[ref] = d
			out[ref] = observedObject{ref: ref, generation: o.GetGeneration(), resourceVersion: o.GetResourceVersion(), enforced: true, tracked: trackedKinds[kind],
				actedOn: actedOn, status: d.status}
		}
	}
	return out, nil
}

// statusOf decodes an object's status as Istio's clients do; nil if it has none or it does
// not decode (it is then rewritten).
func statusOf(o *unstructured.Unstructured) *metav1alpha1.IstioStatus {
	raw, ok := o.Object["status"]
	if !ok {
		return nil
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return nil
	}
	st := &metav1alpha1.IstioStatus{}
	if st.UnmarshalJSON(data) != nil {
		return nil
	}
	return st
}

// views groups the connected proxies by view and by the model their config was generated
// from: the view's latest for a proxy that runs its view's current config, else the model it
// was last seen running (a push in flight to it does not make it stop running the objects the
// push does not change), else none. What applies to a view is computed once per model.
func (w *statusWriter) views(cur *model.Snapshot) []viewConvergence {
	if w.appliesModel != cur {
		w.appliesModel, w.applies = cur, map[string]map[model.ConfigRef]struct{}{}
	}
	type group struct {
		view string
		runs *modelGenerations
	}
	byGroup := map[group]*viewConvergence{}
	var order []group
	connected := map[string]bool{}
	for _, p := range w.xds.Convergence() {
		proxy, ok := w.models.viewProxy(p.ViewKey)
		if !ok {
			continue
		}
		connected[p.NodeID] = true
		msg, rejected := p.Rejection()
		runs := w.running[p.NodeID]
		if p.Current {
			runs = w.models.generationsOf(p.ViewKey)
			w.running[p.NodeID] = runs
		}
		g := group{view: p.ViewKey, runs: runs}
		v := byGroup[g]
		if v == nil {
			applies, ok := w.applies[p.ViewKey]
			if !ok {
				applies = cur.ConfigsFor(proxy)
				w.applies[p.ViewKey] = applies
			}
			v = &viewConvergence{applies: applies}
			if runs != nil {
				v.generations = runs.gens
			}
			byGroup[g] = v
			order = append(order, g)
		}
		v.proxies++
		switch {
		case rejected:
			v.rejections = append(v.rejections, msg)
		case runs != nil:
			v.running++
		}
	}
	for node := range w.running {
		if !connected[node] {
			delete(w.running, node)
		}
	}
	out := make([]viewConvergence, 0, len(order))
	for _, g := range order {
		out = append(out, *byGroup[g])
	}
	return out
}

// actedOn returns the generations of the objects the current model acts on.
func (w *statusWriter) actedOn(cur *model.Snapshot) map[model.ConfigRef]int64 {
	if w.actedModel != cur {
		w.actedModel, w.acted = cur, cur.ConfigGenerations()
	}
	return w.acted
}

// write sends one status with the status subresource.
func (w *statusWriter) write(ctx context.Context, sw statusWrite) {
	k, ok := w.istio.inputs.kindNamed(sw.ref.Kind)
	if !ok {
		return
	}
	mapping, err := w.istio.mapper.RESTMapping(k.gvk.GroupKind(), k.gvk.Version)
	if err != nil {
		w.failed(sw, err)
		return
	}
	status, err := sw.status.MarshalJSON()
	if err != nil {
		w.failed(sw, err)
		return
	}
	patch, err := json.Marshal(map[string]json.RawMessage{"status": status})
	if err != nil {
		w.failed(sw, err)
		return
	}
	// Recorded before the request, so a sync meanwhile does not queue the same status again.
	w.mu.Lock()
	w.written[sw.ref] = sw.status
	w.mu.Unlock()
	_, err = w.dynamic.Resource(mapping.Resource).Namespace(sw.ref.Namespace).Patch(ctx, sw.ref.Name, apitypes.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: StatusFieldManager}, "status")
	switch {
	case apierrors.IsNotFound(err):
		w.writes.WithLabelValues("gone").Inc()
	case err != nil:
		w.failed(sw, err)
	default:
		w.writes.WithLabelValues("written").Inc()
	}
}

// failed counts and logs a write that did not happen; the next period queues it again.
func (w *statusWriter) failed(sw statusWrite, err error) {
	w.writes.WithLabelValues("failed").Inc()
	w.mu.Lock()
	if w.written[sw.ref] == sw.status {
		delete(w.written, sw.ref)
	}
	w.mu.Unlock()
	w.log.V(1).Info("writing status failed; retried next period", "object", sw.ref.String(), "error", err.Error())
}
