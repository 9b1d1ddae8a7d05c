package discovery

import (
	"context"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/translate"
)

// generator connects the xDS server to the model: it names the view a node
// sees and translates the current snapshot for it.
type generator struct {
	ctx       context.Context
	snapshots *snapshots
	metrics   *metrics
	problems  *problemLog

	mu    sync.Mutex
	views map[string]model.Proxy
}

func (g *generator) ViewKey(node *corev3.Node) (string, error) {
	p, err := ParseNode(node)
	if err != nil {
		return "", err
	}
	serves := p.Kind == model.KindGRPC && len(g.snapshots.get(g.ctx).ServicesSelecting(p)) > 0
	key := viewKey(p, serves)
	g.mu.Lock()
	if _, ok := g.views[key]; !ok {
		// The first proxy of a view stands for all of them; only its IPs
		// could differ, and those are part of the key when they matter.
		g.views[key] = p
	}
	g.mu.Unlock()
	return key, nil
}

func (g *generator) Generate(key string) (map[string][]types.Resource, error) {
	g.mu.Lock()
	p, ok := g.views[key]
	g.mu.Unlock()
	if !ok {
		return nil, errUnknownView(key)
	}
	snap := g.snapshots.get(g.ctx)
	start := time.Now()
	res, problems := translate.ForProxy(snap, p)
	g.metrics.translation.Observe(time.Since(start).Seconds())
	g.problems.replace("view "+key, problems)
	return res, nil
}

type errUnknownView string

func (e errUnknownView) Error() string { return "unknown view " + string(e) }
