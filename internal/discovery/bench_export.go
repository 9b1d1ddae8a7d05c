package discovery

import (
	"context"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// Source is Loom's input side on its own: the watches, the model and the
// translation, without Loom's xDS server. It exists for the scale
// benchmark's baseline (test/bench/baseline), which serves the same
// resources through go-control-plane's snapshot cache so that only the
// serving layer differs from `loom discovery`.
type Source struct {
	*generator
	cache cache.Cache
}

// NewSource builds the informer cache and the model for cfg; changed is
// called after every add, update or delete of a watched object. Call Start.
func NewSource(ctx context.Context, cfg *rest.Config, opts Options, changed func()) (*Source, error) {
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	p, err := newPipeline(ctx, cfg, opts, nil)
	if err != nil {
		return nil, err
	}
	if err := p.watch(ctx, changed, nil); err != nil {
		return nil, err
	}
	return &Source{generator: p.generator, cache: p.cache}, nil
}

// Start runs the informers until ctx is done.
func (s *Source) Start(ctx context.Context) error { return s.cache.Start(ctx) }

// WaitForCacheSync blocks until every informer has synced.
func (s *Source) WaitForCacheSync(ctx context.Context) bool { return s.cache.WaitForCacheSync(ctx) }

// ViewKey (from the generator) maps a node to its view, as `loom discovery`
// does; Generate(viewKey) translates the current model for that view.
