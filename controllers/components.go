package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/apply"
	"loom.dev/loom/pkg/render"
	"loom.dev/loom/pkg/values"
)

// component is one rendered part of the mesh, installed in order.
type component struct {
	name      string
	kind      operatorv1alpha1.ComponentKind
	namespace string
	version   string
	objects   []*unstructured.Unstructured
}

// plan renders every component the spec asks for, in install order. An error names the
// component and the field at fault.
func (r *MeshOperatorReconciler) plan(mesh *operatorv1alpha1.MeshOperator) ([]component, error) {
	spec := &mesh.Spec
	vals, err := values.ControlPlane(spec)
	if err != nil {
		return nil, err
	}
	objs, err := r.Renderer.Render(render.ControlPlane, render.Release{Name: mesh.Name, Namespace: spec.Namespace}, vals)
	if err != nil {
		return nil, err
	}
	cp := component{name: "control-plane", kind: operatorv1alpha1.ComponentControlPlane, namespace: spec.Namespace, version: spec.Version, objects: objs}
	labelObjects(cp.objects, mesh.Name, cp.name)
	return []component{cp}, nil
}

// install applies a component and prunes what its previous render had and this one lacks.
func (r *MeshOperatorReconciler) install(ctx context.Context, mesh string, c component) error {
	if err := r.Applier.Apply(ctx, c.objects); err != nil {
		return err
	}
	_, err := r.Applier.Prune(ctx, ownedBy(mesh, c.name), managedKinds, c.objects)
	return err
}

// readiness reports a component's workloads.
func (r *MeshOperatorReconciler) readiness(ctx context.Context, c component) (operatorv1alpha1.ComponentStatus, error) {
	st := operatorv1alpha1.ComponentStatus{Name: c.name, Kind: c.kind, Namespace: c.namespace, Version: c.version, Ready: true}
	for _, obj := range c.objects {
		if obj.GetKind() != "Deployment" {
			continue
		}
		d := &appsv1.Deployment{}
		if err := r.Get(ctx, client.ObjectKeyFromObject(obj), d); err != nil {
			return st, fmt.Errorf("reading %s: %w", apply.Describe(obj), err)
		}
		rd := apply.DeploymentReadiness(d)
		st.DesiredReplicas += rd.Desired
		st.ReadyReplicas += rd.Updated
		if !rd.Ready {
			st.Ready = false
			st.Message = rd.Message
		}
	}
	return st, nil
}
