package meshca

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
)

// skippedNamespaces get no root ConfigMap, as with Istio: no workload there joins the mesh.
var skippedNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// rootPublisher keeps the istio-ca-root-cert ConfigMap (key root-cert.pem) in every
// namespace equal to the trust bundle, as istiod does, so agents can verify the CA. A new
// bundle is written everywhere; a namespace that appears or changes (and every namespace at
// the informer's periodic resync, which repairs a deleted or edited ConfigMap) only there.
type rootPublisher struct {
	client kubernetes.Interface
	log    logr.Logger

	mu      sync.Mutex
	bundle  []byte
	all     bool            // every namespace is due
	pending map[string]bool // namespaces due
	changed chan struct{}
}

// publish sets the trust bundle to write.
func (p *rootPublisher) publish(bundle []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Equal(p.bundle, bundle) {
		return
	}
	p.bundle, p.all = bundle, true
	p.signal()
}

// due marks one namespace to be written.
func (p *rootPublisher) due(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		p.markDue(ns.Name)
	}
}

// markDue marks namespaces to be written.
func (p *rootPublisher) markDue(namespaces ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending == nil {
		p.pending = map[string]bool{}
	}
	for _, ns := range namespaces {
		p.pending[ns] = true
	}
	p.signal()
}

func (p *rootPublisher) signal() {
	if p.changed == nil {
		p.changed = make(chan struct{}, 1)
	}
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// take returns what is due and forgets it.
func (p *rootPublisher) take() (bundle []byte, all bool, pending map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	bundle, all, pending = p.bundle, p.all, p.pending
	if len(bundle) > 0 {
		p.all, p.pending = false, nil
	}
	return bundle, all, pending
}

// run writes the bundle where it is due until ctx is done.
func (p *rootPublisher) run(ctx context.Context) {
	p.mu.Lock()
	p.signal()
	changed := p.changed
	p.mu.Unlock()
	factory := informers.NewSharedInformerFactory(p.client, 5*time.Minute)
	nsInformer := factory.Core().V1().Namespaces()
	_, _ = nsInformer.Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    p.due,
		UpdateFunc: func(_, cur any) { p.due(cur) },
	})
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	factory.WaitForCacheSync(ctx.Done())
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		bundle, all, pending := p.take()
		if len(bundle) == 0 {
			continue // nothing to publish yet; what is due stays due
		}
		namespaces, err := nsInformer.Lister().List(everything)
		if err != nil {
			continue
		}
		data := map[string]string{"root-cert.pem": string(bundle)}
		var failed []string
		for _, ns := range namespaces {
			if !all && !pending[ns.Name] || slices.Contains(skippedNamespaces, ns.Name) || ns.Status.Phase == corev1.NamespaceTerminating {
				continue
			}
			if err := writeConfigMap(ctx, p.client, ns.Name, rootConfigMapName, rootLabels, data); err != nil && ctx.Err() == nil {
				p.log.Error(err, "trust bundle not published; retrying", "namespace", ns.Name)
				failed = append(failed, ns.Name)
			}
		}
		if len(failed) > 0 {
			time.AfterFunc(publishRetry, func() { p.markDue(failed...) })
		}
	}
}

// publishRetry paces another try for namespaces whose ConfigMap could not be written (a
// conflicting update, an apiserver that did not answer): left for the periodic resync, they
// would keep a retired root for minutes.
const publishRetry = time.Second

var rootLabels = map[string]string{"istio.io/config": "true", "app.kubernetes.io/managed-by": "loom-discovery"}
var everything = labels.Everything()
