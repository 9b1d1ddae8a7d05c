package discovery

import (
	"context"
	"sync"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"loom.dev/loom/pkg/model"
)

// modelRecorder is the generator as the xDS server sees it when status is written: it also
// remembers, per view, the generations of the objects in the model the view's config was
// last generated from, so a proxy that runs its view's current config is known to run those
// generations, not just "the latest config". Only the generations are kept, not the models.
type modelRecorder struct {
	*generator

	mu        sync.Mutex
	models    map[string]*modelGenerations // by view key
	lastModel *model.Snapshot              // the model last recorded, and its generations
	lastGens  *modelGenerations
}

// modelGenerations are the generations of the objects one model acts on (see
// model.Snapshot.ConfigGenerations); one value per model, shared by the views generated
// from it, so its pointer names the model.
type modelGenerations struct {
	gens map[model.ConfigRef]int64
}

func newModelRecorder(g *generator) *modelRecorder {
	return &modelRecorder{generator: g, models: map[string]*modelGenerations{}}
}

// Generate records the model before translating: the generator reads the model again and
// may get a newer one, never an older one, so what is recorded never claims more than the
// view holds.
func (r *modelRecorder) Generate(key string) (map[string][]types.Resource, error) {
	return r.generate(r.ctx, key)
}

func (r *modelRecorder) generate(ctx context.Context, key string) (map[string][]types.Resource, error) {
	snap := r.snapshots.get(ctx)
	res, err := r.generator.generate(ctx, key)
	if err == nil {
		r.record(key, snap)
	}
	return res, err
}

func (r *modelRecorder) record(key string, snap *model.Snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if snap != r.lastModel {
		r.lastModel, r.lastGens = snap, &modelGenerations{gens: snap.ConfigGenerations()}
	}
	r.models[key] = r.lastGens
}

func (r *modelRecorder) ViewRemoved(key string) {
	r.generator.ViewRemoved(key)
	r.mu.Lock()
	delete(r.models, key)
	r.mu.Unlock()
}

// generationsOf returns the generations of the model the view's config was last generated
// from (nil if none yet).
func (r *modelRecorder) generationsOf(key string) *modelGenerations {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.models[key]
}

// byObject returns the problems known now, per object.
func (l *problemLog) byObject() map[model.ConfigRef][]model.Problem {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[model.ConfigRef][]model.Problem{}
	for _, ps := range l.sources {
		for _, p := range ps {
			ref := model.ConfigRef{Kind: p.Kind, Namespace: p.Meta.Namespace, Name: p.Meta.Name}
			out[ref] = append(out[ref], p)
		}
	}
	return out
}
