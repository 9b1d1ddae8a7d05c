package discovery

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"loom.dev/loom/pkg/model"
)

// pipeline is the input side: the informer cache, the model snapshots built
// from it and the generator that translates them for each view.
type pipeline struct {
	cache     cache.Cache
	generator *generator
}

// newPipeline builds the pipeline for cfg; reg (may be nil) receives its metrics.
func newPipeline(ctx context.Context, cfg *rest.Config, opts Options, reg prometheus.Registerer) (*pipeline, error) {
	if opts.DomainSuffix == "" {
		opts.DomainSuffix = model.DefaultDomainSuffix
	}
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	c, err := newCache(ctx, cfg, scheme)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	m := newMetrics(reg)
	problems := newProblemLog(opts.Logger, m)
	snaps := &snapshots{
		reader:  c,
		mesh:    model.Input{DomainSuffix: opts.DomainSuffix, RootNamespace: opts.RootNamespace, RegistryOnly: opts.RegistryOnly},
		log:     opts.Logger,
		metrics: m,
		reports: problems,
	}
	snaps.markDirty()
	gen := &generator{ctx: ctx, snapshots: snaps, metrics: m, problems: problems, revision: opts.Revision, log: opts.Logger,
		views: map[string]model.Proxy{}, warned: map[string]bool{}}
	return &pipeline{cache: c, generator: gen}, nil
}

// watch registers the event handlers: every add, update or delete marks the
// model stale and calls changed; an EndpointSlice change also calls
// endpointsChanged (if not nil) once noted for the quick endpoint update.
func (p *pipeline) watch(ctx context.Context, changed, endpointsChanged func()) error {
	snaps := p.generator.snapshots
	slice := func(string) {}
	if endpointsChanged != nil {
		slice = func(key string) { snaps.noteEndpoints(key); endpointsChanged() }
	}
	return watch(ctx, p.cache, func() { snaps.markDirty(); changed() }, slice)
}
