package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/istiocrds"
)

// managedSelector matches every object the operator manages.
func managedSelector() labels.Selector {
	req, _ := labels.NewRequirement(LabelMesh, selection.Exists, nil)
	return labels.NewSelector().Add(*req)
}

func managedMetadata() []client.Object {
	objs := make([]client.Object, 0, len(managedKinds))
	for _, gvk := range managedKinds {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(gvk)
		objs = append(objs, m)
	}
	return objs
}

// CacheOptions keeps only managed objects in the manager's cache for the kinds the
// operator watches, so that a large cluster's Deployments and ConfigMaps are not cached.
func CacheOptions() cache.Options {
	byObject := map[client.Object]cache.ByObject{
		&appsv1.Deployment{}: {Label: managedSelector()},
		&corev1.ConfigMap{}:  {Label: managedSelector()},
	}
	for _, obj := range managedMetadata() {
		byObject[obj] = cache.ByObject{Label: managedSelector()}
	}
	return cache.Options{ByObject: byObject}
}

// SetupWithManager registers the reconciler: it reacts to MeshOperators, to changes of the
// objects it manages (drift repair, readiness), to its MeshRevisions, and to meshes that share a namespace.
func (r *MeshOperatorReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&operatorv1alpha1.MeshOperator{}).
		Named("meshoperator").
		// A MeshRevision changed or deleted by hand is restated, or its revision retired.
		Owns(&operatorv1alpha1.MeshRevision{}).
		// Namespaces that select a revision, or no longer do, change what uses the revisions.
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.meshesOfRevisionNamespace)).
		Watches(&operatorv1alpha1.MeshOperator{}, handler.EnqueueRequestsFromMapFunc(r.namespaceSiblings))
	// Each managed kind is watched through both informers the reconciler reads, so that a
	// wake-up never arrives before the cache holds the change that caused it: the typed one
	// that readiness judges, and the metadata one that the applier compares with what it
	// applied.
	b = b.Watches(&apiextensionsv1.CustomResourceDefinition{}, handler.EnqueueRequestsFromMapFunc(r.meshesUsingIstioCRD))
	b = b.Watches(&apiextensionsv1.CustomResourceDefinition{}, handler.EnqueueRequestsFromMapFunc(r.meshesUsingMonitoringCRD))
	for _, gvk := range managedKinds {
		typed, err := mgr.GetScheme().New(gvk)
		if err != nil {
			return fmt.Errorf("watching %s: %w", gvk.Kind, err)
		}
		b = b.Watches(typed.(client.Object), handler.EnqueueRequestsFromMapFunc(meshOfObject))
	}
	for _, obj := range managedMetadata() {
		b = b.WatchesMetadata(obj, handler.EnqueueRequestsFromMapFunc(meshOfObject))
	}
	return b.Complete(r)
}

// meshesUsingIstioCRD wakes every mesh when one of Loom's Istio CRDs changes (becomes
// Established, say): they all wait on them.
func (r *MeshOperatorReconciler) meshesUsingIstioCRD(ctx context.Context, obj client.Object) []reconcile.Request {
	if obj.GetLabels()[istiocrds.Label] != "true" {
		return nil
	}
	return r.allMeshes(ctx)
}

// meshesOfRevisionNamespace wakes every mesh when a namespace that selects a revision
// changes: which mesh runs the revision is the reconciler's to find out.
func (r *MeshOperatorReconciler) meshesOfRevisionNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	l := obj.GetLabels()
	if _, ok := l[revisionLabel]; !ok {
		if _, ok := l[injectionLabel]; !ok {
			return nil
		}
	}
	return r.allMeshes(ctx)
}

func (r *MeshOperatorReconciler) allMeshes(ctx context.Context) []reconcile.Request {
	list := &operatorv1alpha1.MeshOperatorList{}
	if err := r.List(ctx, list); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, m := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: m.Name}})
	}
	return reqs
}

func meshOfObject(_ context.Context, obj client.Object) []reconcile.Request {
	if mesh := obj.GetLabels()[LabelMesh]; mesh != "" {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: mesh}}}
	}
	return nil
}

// namespaceSiblings wakes the other meshes that name the same namespace, so that one
// refused for a conflict takes over once the owner is gone.
func (r *MeshOperatorReconciler) namespaceSiblings(ctx context.Context, obj client.Object) []reconcile.Request {
	mesh, ok := obj.(*operatorv1alpha1.MeshOperator)
	if !ok {
		return nil
	}
	list := &operatorv1alpha1.MeshOperatorList{}
	if err := r.List(ctx, list); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, m := range list.Items {
		if m.Name != mesh.Name && m.Spec.Namespace == mesh.Spec.Namespace {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: m.Name}})
		}
	}
	return reqs
}
