package discovery

import (
	"context"
	"fmt"
	"maps"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Scheme holds the typed kinds discovery reads; Istio's are read as
// unstructured objects (see istioKind).
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// watchedKinds are the Kubernetes objects whose changes trigger a push;
// the Istio kinds are watched by istioWatch.
func watchedKinds() []client.Object {
	return []client.Object{&corev1.Service{}, &discoveryv1.EndpointSlice{}, &corev1.Pod{}, &corev1.Node{}, &corev1.Secret{}}
}

// sliceServiceIndex indexes EndpointSlices by the name of their Service.
const sliceServiceIndex = "loom.service-name"

// newCache builds an informer cache that hands out its own objects (the
// model only reads them) and keeps only what discovery reads of them.
func newCache(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, mapper apimeta.RESTMapper, httpClient *http.Client, onWatchError toolscache.WatchErrorHandlerWithContext) (cache.Cache, error) {
	opts := cacheOptions()
	opts.DefaultWatchErrorHandler, opts.Scheme, opts.Mapper, opts.HTTPClient = onWatchError, scheme, mapper, httpClient
	c, err := cache.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	err = c.IndexField(ctx, &discoveryv1.EndpointSlice{}, sliceServiceIndex, func(o client.Object) []string {
		if name := o.GetLabels()[discoveryv1.LabelServiceName]; name != "" {
			return []string{name}
		}
		return nil
	})
	return c, err
}

// watch calls changed after every add, update or delete of a watched kind
// (istioChanged, with the kind and the object, for the Istio kinds), and
// also slice with the namespace/name of the Service an EndpointSlice
// belongs to, for every EndpointSlice change.
func watch(ctx context.Context, c cache.Cache, istio istioWatch, changed func(), istioChanged func(kind string, obj any), slice func(serviceKey string)) error {
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { changed() },
		UpdateFunc: func(any, any) { changed() },
		DeleteFunc: func(any) { changed() },
	}
	onSlice := func(objs ...any) {
		for _, obj := range objs {
			if key := sliceServiceKey(obj); key != "" {
				slice(key)
			}
		}
		changed()
	}
	sliceHandler := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { onSlice(obj) },
		UpdateFunc: func(old, obj any) { onSlice(old, obj) },
		DeleteFunc: func(obj any) { onSlice(obj) },
	}
	for _, obj := range watchedKinds() {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watch %T: %w", obj, err)
		}
		h := handler
		if _, ok := obj.(*discoveryv1.EndpointSlice); ok {
			h = sliceHandler
		}
		if _, err := inf.AddEventHandler(h); err != nil {
			return fmt.Errorf("watch %T: %w", obj, err)
		}
	}
	// Istio objects carry status that discovery itself writes (see statusWriter): an update
	// of status alone changes nothing discovery reads, and must not cost a rebuild.
	istioHandler := func(kind string) toolscache.ResourceEventHandler {
		return toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) { istioChanged(kind, obj) },
			UpdateFunc: func(old, obj any) {
				if !statusOnly(old, obj) {
					istioChanged(kind, obj)
				}
			},
			DeleteFunc: func(obj any) { istioChanged(kind, obj) },
		}
	}
	istio.cache, istio.handler, istio.changed = c, istioHandler, changed
	return istio.start(ctx)
}

// sliceServiceKey is namespace/name of the Service an EndpointSlice (or
// the tombstone of a deleted one) belongs to; "" if none.
func sliceServiceKey(obj any) string {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
		return ""
	}
	return s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]
}

// cacheOptions are what the cache keeps: no object's managedFields (nothing in discovery
// reads them, and they can be as large as the rest of the object: istiod strips them too),
// and of pods and nodes only the fields discovery uses.
func cacheOptions() cache.Options {
	return cache.Options{
		DefaultUnsafeDisableDeepCopy: ptr.To(true),
		DefaultTransform:             cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}:  {Transform: trimPod},
			&corev1.Node{}: {Transform: trimNode},
		},
	}
}

func trimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	trimmed := &corev1.Pod{
		ObjectMeta: pod.ObjectMeta,
		Spec:       corev1.PodSpec{ServiceAccountName: pod.Spec.ServiceAccountName, NodeName: pod.Spec.NodeName},
		Status:     corev1.PodStatus{PodIP: pod.Status.PodIP, PodIPs: pod.Status.PodIPs, Conditions: pod.Status.Conditions, Phase: pod.Status.Phase},
	}
	trimmed.ManagedFields = nil
	trimmed.Annotations = nil
	return trimmed, nil
}

func trimNode(obj any) (any, error) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	return &corev1.Node{ObjectMeta: metaOnlyLabels(node.ObjectMeta)}, nil
}

func metaOnlyLabels(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion, Labels: m.Labels}
}

// statusOnly reports whether an update left what discovery reads as it was: the spec
// (generation: Istio's CRDs have a status subresource), labels, annotations and deletion.
func statusOnly(old, obj any) bool {
	o, err1 := apimeta.Accessor(old)
	n, err2 := apimeta.Accessor(obj)
	if err1 != nil || err2 != nil || o.GetGeneration() == 0 {
		return false
	}
	return o.GetGeneration() == n.GetGeneration() && maps.Equal(o.GetLabels(), n.GetLabels()) &&
		maps.Equal(o.GetAnnotations(), n.GetAnnotations()) && o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp())
}
