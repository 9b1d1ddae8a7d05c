package discovery

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// istioWatch starts the informers of the Istio kinds. A kind whose CRD is
// not installed does not keep discovery from starting or becoming ready: it
// is watched as soon as its CRD is served, which a watch on CRDs notices.
type istioWatch struct {
	inputs *istioInputs
	mapper apimeta.RESTMapper
	log    logr.Logger

	// Set by watch: the cache, the handler of each watched kind and the
	// call that marks the model stale.
	cache   cache.Cache
	handler func(kind string) toolscache.ResourceEventHandler
	changed func()
}

// start watches every kind served now (the cache's first sync includes
// them) and the CRDs, to pick up the others when they appear.
func (w istioWatch) start(ctx context.Context) error {
	for _, k := range w.inputs.kinds {
		if _, err := w.mapper.RESTMapping(k.gvk.GroupKind(), k.gvk.Version); err != nil {
			if !apimeta.IsNoMatchError(err) {
				return fmt.Errorf("watch %s: %w", k.gvk.Kind, err)
			}
			w.log.Info("Istio kind not served (its CRD is not installed); it is watched once the CRD appears", "kind", k.gvk.Kind, "crd", k.crd)
			continue
		}
		if !w.inputs.claim(k) {
			continue
		}
		inf, err := w.cache.GetInformer(ctx, k.object())
		if err != nil {
			return fmt.Errorf("watch %s: %w", k.gvk.Kind, err)
		}
		if _, err := inf.AddEventHandler(w.handler(k.gvk.Kind)); err != nil {
			return fmt.Errorf("watch %s: %w", k.gvk.Kind, err)
		}
		w.inputs.activate(k)
	}
	crds := &metav1.PartialObjectMetadata{}
	crds.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	inf, err := w.cache.GetInformer(ctx, crds)
	if err != nil {
		return fmt.Errorf("watch CRDs: %w", err)
	}
	// A CRD is updated when it becomes established: a kind not served at
	// its creation is tried again then.
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.crdChanged(ctx, obj) },
		UpdateFunc: func(_, obj any) { w.crdChanged(ctx, obj) },
	})
	if err != nil {
		return fmt.Errorf("watch CRDs: %w", err)
	}
	return nil
}

func (w istioWatch) crdChanged(ctx context.Context, obj any) {
	crd, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return
	}
	for _, k := range w.inputs.kinds {
		if k.crd == crd.Name && w.inputs.claim(k) {
			go w.startLate(ctx, k)
		}
	}
}

// startLate watches a kind whose CRD appeared after discovery started; its
// objects join the model once its informer has synced.
func (w istioWatch) startLate(ctx context.Context, k istioKind) {
	// The API server serves a new CRD's kind a moment after it is created.
	served := func(context.Context) (bool, error) {
		_, err := w.mapper.RESTMapping(k.gvk.GroupKind(), k.gvk.Version)
		return err == nil, nil
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, served); err != nil {
		w.log.Info("Istio kind still not served; trying again when its CRD changes", "kind", k.gvk.Kind, "crd", k.crd)
		w.inputs.release(k)
		return
	}
	inf, err := w.cache.GetInformer(ctx, k.object(), cache.BlockUntilSynced(false))
	if err == nil {
		_, err = inf.AddEventHandler(w.handler(k.gvk.Kind))
	}
	if err != nil {
		w.log.Error(err, "watching an Istio kind failed; trying again when its CRD changes", "kind", k.gvk.Kind)
		w.inputs.release(k)
		return
	}
	if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return
	}
	w.inputs.activate(k)
	w.log.Info("Istio kind now watched", "kind", k.gvk.Kind)
	w.changed()
}
