package discovery

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"loom.dev/loom/pkg/translate"
)

// pipeline is the input side: the informer cache, the model snapshots built
// from it and the generator that translates them for each view.
type pipeline struct {
	cache     cache.Cache
	istio     istioWatch
	refresher *modelRefresher
	generator *generator
	clientset kubernetes.Interface
	jwks      *jwksFetcher
}

// newPipeline builds the pipeline for cfg; reg (may be nil) receives its metrics.
func newPipeline(ctx context.Context, cfg *rest.Config, opts Options, reg prometheus.Registerer) (*pipeline, error) {
	mesh, err := opts.Mesh.Input(opts.DomainSuffix, opts.RootNamespace)
	if err != nil {
		return nil, err
	}
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("REST mapper: %w", err)
	}
	health := newWatchHealth(reg, clock.RealClock{})
	c, err := newCache(ctx, cfg, scheme, mapper, httpClient, health.handle)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	clientset, err := kubernetes.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	m := newMetrics(reg)
	istio := newIstioInputs(istioKinds())
	problems := newProblemLog(opts.Logger, m)
	health.setProblems(problems)
	go health.run(ctx)
	events := newProblemEvents(eventRecorder(ctx, clientset, scheme), c, istio, opts.Logger.WithName("events"))
	problems.appeared = events.notify
	go events.run(ctx)
	jwks := newJWKSFetcher(clock.RealClock{})
	go jwks.run(ctx)
	snaps := &snapshots{
		reader:  &inputReader{Reader: c, istio: istio, jwks: jwks},
		mesh:    mesh,
		log:     opts.Logger,
		metrics: m,
		reports: problems,
		tracer:  opts.Tracer,
	}
	snaps.markDirty()
	gen := &generator{ctx: ctx, snapshots: snaps, metrics: m, problems: problems, revision: opts.Revision, log: opts.Logger,
		views: map[string]*viewState{}, warned: map[string]bool{}, trust: &trustBundle{}, translations: translate.NewCache(sharedPartsKept()),
		keys: &keyAccess{client: clientset, clock: clock.RealClock{}, ctx: ctx, answers: map[keyAccessQuestion]keyAccessAnswer{}}}
	refresher := newModelRefresher()
	go refresher.run(ctx, func(ctx context.Context) { snaps.get(ctx) })
	return &pipeline{cache: c, istio: istioWatch{inputs: istio, mapper: mapper, log: opts.Logger}, refresher: refresher, generator: gen, clientset: clientset, jwks: jwks}, nil
}

// eventRecorder records Events through the API server until ctx is done;
// sending happens in the background and never blocks the caller.
func eventRecorder(ctx context.Context, clientset kubernetes.Interface, scheme *runtime.Scheme) record.EventRecorder {
	b := record.NewBroadcaster(record.WithContext(ctx))
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: clientset.CoreV1().Events("")})
	go func() { <-ctx.Done(); b.Shutdown() }()
	return b.NewRecorder(scheme, corev1.EventSource{Component: "loom-discovery"})
}

// watch registers the event handlers: every add, update or delete marks the
// model stale, has it rebuilt soon and calls changed; an EndpointSlice
// change also calls endpointsChanged (if not nil) once noted for the quick
// endpoint update.
func (p *pipeline) watch(ctx context.Context, changed, endpointsChanged func()) error {
	snaps := p.generator.snapshots
	slice := func(string) {}
	if endpointsChanged != nil {
		slice = func(key string) { snaps.noteEndpoints(key); endpointsChanged() }
	}
	// The model is marked stale before the change is noted for the next push's scope: a
	// push that takes the note then reads a model that holds the change.
	rebuild := func() { snaps.markDirty(); p.generator.changes.noteAll(); p.refresher.changed(); changed() }
	rebuildFor := func(kind string, obj any) {
		snaps.markDirty()
		p.generator.changes.noteObject(kind, obj)
		p.refresher.changed()
		changed()
	}
	p.jwks.onChange(rebuild) // refreshed keys reach the proxies like a config change
	return watch(ctx, p.cache, p.istio, rebuild, rebuildFor, slice)
}
