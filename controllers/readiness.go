package controllers

import (
	"context"
	"fmt"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/apply"
)

// readiness judges each of a component's objects, as live in the cluster, with kstatus; the
// first that is not Ready explains why the component is not.
func (r *MeshOperatorReconciler) readiness(ctx context.Context, mesh string, c component) (operatorv1alpha1.ComponentStatus, error) {
	if c.name == monitorsComponent {
		return r.monitorsReadiness(ctx, c), nil
	}
	st := operatorv1alpha1.ComponentStatus{Name: c.name, Kind: c.kind, Namespace: c.namespace, Version: c.version, Ready: true}
	for _, obj := range c.objects {
		rd, err := r.objectReadiness(ctx, mesh, obj)
		if err != nil {
			return st, err
		}
		st.DesiredReplicas += rd.Desired
		st.ReadyReplicas += rd.Updated
		if !rd.Ready && st.Ready {
			st.Ready, st.Message = false, rd.Message
		}
	}
	return st, nil
}

// objectReadiness reads an applied object from the cache, through the typed informer that
// wakes the reconciler when it changes, and judges it unless it is unchanged since it was
// last judged.
func (r *MeshOperatorReconciler) objectReadiness(ctx context.Context, mesh string, obj *unstructured.Unstructured) (apply.Readiness, error) {
	typed, err := r.Scheme().New(obj.GroupVersionKind())
	if err != nil {
		return apply.Readiness{}, fmt.Errorf("judging %s: %w", apply.Describe(obj), err)
	}
	live := typed.(client.Object)
	// A shallow copy of the cache's object: replacing its fields is safe, changing what
	// they point to is not.
	if err := r.Get(ctx, client.ObjectKeyFromObject(obj), live, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			return apply.Readiness{Message: "waiting for " + apply.Describe(obj) + " to be created"}, nil
		}
		return apply.Readiness{}, fmt.Errorf("reading %s: %w", apply.Describe(obj), err)
	}
	if applied := r.Applier.AppliedGeneration(obj); live.GetGeneration() < applied {
		return apply.Readiness{Message: fmt.Sprintf("waiting to observe generation %d of %s", applied, apply.Describe(obj))}, nil
	}
	key := apply.Describe(obj)
	if rd, ok := r.verdicts.get(mesh, key, live.GetResourceVersion()); ok {
		return rd, nil
	}
	live.SetManagedFields(nil)
	if crd, ok := live.(*apiextensionsv1.CustomResourceDefinition); ok {
		// kstatus reads only a CRD's status; its schemas (megabytes for Istio's) would cost
		// more to convert than the rest of a reconcile.
		crd.Spec = apiextensionsv1.CustomResourceDefinitionSpec{}
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return apply.Readiness{}, fmt.Errorf("reading %s: %w", apply.Describe(obj), err)
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(obj.GroupVersionKind())
	rd, err := apply.ReadinessOf(u)
	if err != nil {
		return rd, err
	}
	r.verdicts.put(mesh, key, live.GetResourceVersion(), rd)
	return rd, nil
}

// verdicts remembers kstatus's verdict on each object a mesh applied, with the
// resourceVersion it judged: the verdict is a function of the object, so an unchanged object
// (every object, in a reconcile that changes nothing) is not converted and judged again.
type verdicts struct {
	mu     sync.Mutex
	byMesh map[string]map[string]verdict
}

type verdict struct {
	resourceVersion string
	readiness       apply.Readiness
}

func (v *verdicts) get(mesh, key, resourceVersion string) (apply.Readiness, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	got, ok := v.byMesh[mesh][key]
	return got.readiness, ok && got.resourceVersion == resourceVersion && resourceVersion != ""
}

func (v *verdicts) put(mesh, key, resourceVersion string, rd apply.Readiness) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.byMesh == nil {
		v.byMesh = map[string]map[string]verdict{}
	}
	if v.byMesh[mesh] == nil {
		v.byMesh[mesh] = map[string]verdict{}
	}
	v.byMesh[mesh][key] = verdict{resourceVersion: resourceVersion, readiness: rd}
}

// forget drops a mesh's verdicts once it is uninstalled.
func (v *verdicts) forget(mesh string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.byMesh, mesh)
}
