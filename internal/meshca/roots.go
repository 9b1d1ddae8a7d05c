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
// namespace equal to the trust bundle, as istiod does, so agents can verify the CA.
type rootPublisher struct {
	client kubernetes.Interface
	log    logr.Logger

	mu      sync.Mutex
	bundle  []byte
	changed chan struct{}
}

// publish sets the trust bundle to write.
func (p *rootPublisher) publish(bundle []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Equal(p.bundle, bundle) {
		return
	}
	p.bundle = bundle
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

// run writes the bundle to every namespace whenever it changes, a namespace appears, or a
// periodic resync comes, until ctx is done.
func (p *rootPublisher) run(ctx context.Context) {
	p.mu.Lock()
	p.signal()
	changed := p.changed
	p.mu.Unlock()
	factory := informers.NewSharedInformerFactory(p.client, 5*time.Minute)
	nsInformer := factory.Core().V1().Namespaces()
	_, _ = nsInformer.Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.mu.Lock(); p.signal(); p.mu.Unlock() },
		UpdateFunc: func(any, any) { p.mu.Lock(); p.signal(); p.mu.Unlock() },
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
		p.mu.Lock()
		bundle := p.bundle
		p.mu.Unlock()
		if len(bundle) == 0 {
			continue
		}
		namespaces, err := nsInformer.Lister().List(everything)
		if err != nil {
			continue
		}
		for _, ns := range namespaces {
			if slices.Contains(skippedNamespaces, ns.Name) || ns.Status.Phase == corev1.NamespaceTerminating {
				continue
			}
			data := map[string]string{"root-cert.pem": string(bundle)}
			if err := writeConfigMap(ctx, p.client, ns.Name, rootConfigMapName, rootLabels, data); err != nil && ctx.Err() == nil {
				p.log.Error(err, "trust bundle not published", "namespace", ns.Name)
			}
		}
	}
}

var rootLabels = map[string]string{"istio.io/config": "true", "app.kubernetes.io/managed-by": "loom-discovery"}
var everything = labels.Everything()
