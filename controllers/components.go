package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/istiocrds"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
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
	// shared components (the Istio CRDs) serve every mesh: they carry no mesh labels and
	// are never pruned by one.
	shared bool
}

// istioCRDsComponent installs the Istio APIs before anything that reads them.
func (r *MeshOperatorReconciler) istioCRDsComponent(version string) component {
	return component{name: "istio-crds", kind: operatorv1alpha1.ComponentCRDs, version: version, objects: r.IstioCRDs, shared: true}
}

// plan returns the components the spec asks for, rendering them only when this mesh's spec
// differs from the last one planned: rendering is a pure function of the spec.
func (r *MeshOperatorReconciler) plan(mesh *operatorv1alpha1.MeshOperator) ([]component, error) {
	// Whether mode Auto wants the monitors depends on the cluster: the cached CRDs say.
	monitors := values.WantsMonitors(&mesh.Spec, r.monitoringCRDsInstalled(context.Background()))
	key, err := json.Marshal(struct {
		Name     string
		Spec     operatorv1alpha1.MeshOperatorSpec
		Monitors bool
	}{mesh.Name, mesh.Spec, monitors})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(key)
	if cached, ok := r.plans.Load(mesh.Name); ok && cached.(cachedPlan).sum == sum {
		return cached.(cachedPlan).components, nil
	}
	components, err := r.render(mesh, monitors)
	if err != nil {
		return nil, err
	}
	r.plans.Store(mesh.Name, cachedPlan{sum: sum, components: components})
	return components, nil
}

// cachedPlan is the render of one spec; its objects are never modified.
type cachedPlan struct {
	sum        [sha256.Size]byte
	components []component
}

// render renders every component the spec asks for, in install order: the control plane,
// then the gateways, then the add-ons, then the Prometheus Operator's objects when monitors
// is set. An error names the component and the field at fault.
func (r *MeshOperatorReconciler) render(mesh *operatorv1alpha1.MeshOperator, monitors bool) ([]component, error) {
	spec := &mesh.Spec
	type step struct {
		name, chart, namespace string
		kind                   operatorv1alpha1.ComponentKind
		values                 func() (map[string]any, error)
	}
	steps := []step{{controlPlaneComponent(spec), render.ControlPlane, spec.Namespace, operatorv1alpha1.ComponentControlPlane,
		func() (map[string]any, error) { return values.ControlPlane(spec) }}}
	for i := range spec.Gateways {
		gw := &spec.Gateways[i]
		steps = append(steps, step{"gateway-" + gw.Name, render.Gateway, values.GatewayNamespace(spec, gw), operatorv1alpha1.ComponentGateway,
			func() (map[string]any, error) { return values.Gateway(spec, gw) }})
	}
	addons := []struct {
		enabled bool
		chart   string
		values  func(*operatorv1alpha1.MeshOperatorSpec) (map[string]any, error)
	}{
		{spec.Addons.Prometheus.Enabled, render.Prometheus, values.Prometheus},
		{spec.Addons.Grafana.Enabled, render.Grafana, values.Grafana},
		{spec.Addons.Jaeger.Enabled, render.Jaeger, values.Jaeger},
	}
	for _, a := range addons {
		if a.enabled {
			steps = append(steps, step{"addon-" + a.chart, a.chart, spec.Namespace, operatorv1alpha1.ComponentAddon,
				func() (map[string]any, error) { return a.values(spec) }})
		}
	}
	if monitors {
		steps = append(steps, step{monitorsComponent, values.MonitorsChart, spec.Namespace, operatorv1alpha1.ComponentAddon,
			func() (map[string]any, error) { return r.monitorsValues(mesh) }})
	}

	components := make([]component, 0, len(steps)+1)
	components = append(components, r.istioCRDsComponent(spec.Version))
	for _, s := range steps {
		vals, err := s.values()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		vals = values.WithImageRegistry(s.chart, vals, r.ImageRegistry)
		objs, err := r.Renderer.Render(s.chart, render.Release{Name: mesh.Name, Namespace: s.namespace}, vals)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		labelObjects(objs, mesh.Name, s.name)
		components = append(components, component{name: s.name, kind: s.kind, namespace: s.namespace, version: spec.Version, objects: objs})
	}
	return components, nil
}

// controlPlaneComponent names the control-plane component of a spec's revision.
func controlPlaneComponent(spec *operatorv1alpha1.MeshOperatorSpec) string {
	if rev := values.Revision(spec); rev != "" {
		return "control-plane-" + rev
	}
	return "control-plane"
}

// withRetainedRevisions adds the control planes of older revisions that still run, right
// after the Istio CRDs: they are installed already and keep serving their workloads.
func (r *MeshOperatorReconciler) withRetainedRevisions(mesh *operatorv1alpha1.MeshOperator, components []component, mem memory) ([]component, error) {
	retained := mem.retained(revisionName(&mesh.Spec))
	if len(retained) == 0 {
		return components, nil
	}
	out := append([]component{}, components[0])
	for _, name := range retained {
		old := mesh.DeepCopy()
		old.Spec = mem.revisions[name].Spec
		rendered, err := r.render(old, false)
		if err != nil {
			return nil, fmt.Errorf("revision %s: %w", name, err)
		}
		for _, c := range rendered {
			if c.kind == operatorv1alpha1.ComponentControlPlane {
				out = append(out, withoutDefaultInjection(c))
			}
		}
	}
	return append(out, components[1:]...), nil
}

// withoutDefaultInjection drops, from a retained revision's injector and validator, the
// webhooks that serve the default revision (istio-injection=enabled,
// sidecar.istio.io/inject=true, config without istio.io/rev): only the current revision is the
// default, and a retained one keeps serving only what names it with istio.io/rev.
func withoutDefaultInjection(c component) component {
	objects := make([]*unstructured.Unstructured, len(c.objects))
	for i, obj := range c.objects {
		objects[i] = obj
		if kind := obj.GetKind(); kind != "MutatingWebhookConfiguration" && kind != "ValidatingWebhookConfiguration" {
			continue
		}
		hooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
		kept := hooks[:0:0]
		for _, h := range hooks {
			if name, _ := h.(map[string]any)["name"].(string); strings.HasPrefix(name, "rev.") {
				kept = append(kept, h)
			}
		}
		objects[i] = obj.DeepCopy()
		_ = unstructured.SetNestedSlice(objects[i].Object, kept, "webhooks")
	}
	c.objects = objects
	return c
}

// install applies a component and prunes what its previous render had and this one lacks.
func (r *MeshOperatorReconciler) install(ctx context.Context, mesh string, c component) error {
	if c.shared {
		return r.applyIstioCRDs(ctx, c.objects)
	}
	if c.name == monitorsComponent {
		return r.installMonitors(ctx, mesh, c)
	}
	if err := r.Applier.Apply(ctx, c.objects); err != nil {
		return err
	}
	_, err := r.Applier.Prune(ctx, ownedBy(mesh, c.name), managedKinds, c.objects)
	return err
}

// applyIstioCRDs installs or upgrades the Istio CRDs Loom owns. A CRD that exists without
// Loom's label (Istio installed it, say) is left as it is: its schema serves the same APIs.
func (r *MeshOperatorReconciler) applyIstioCRDs(ctx context.Context, crds []*unstructured.Unstructured) error {
	for _, crd := range crds {
		err := r.applyIstioCRD(ctx, r.Client, crd)
		if apierrors.IsConflict(err) {
			// The cached copy the decision rested on was stale: decide again on the live one.
			err = r.applyIstioCRD(ctx, r.uncached(), crd)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// applyIstioCRD applies crd unless a CRD of that name exists without Loom's label. The apply
// is conditional on the resourceVersion of the copy the decision was made on, so a CRD
// relabelled meanwhile (given to Istio) is never claimed back.
func (r *MeshOperatorReconciler) applyIstioCRD(ctx context.Context, reader client.Reader, crd *unstructured.Unstructured) error {
	live := &apiextensionsv1.CustomResourceDefinition{}
	err := reader.Get(ctx, client.ObjectKeyFromObject(crd), live)
	switch {
	case apierrors.IsNotFound(err):
		return r.Applier.Apply(ctx, []*unstructured.Unstructured{crd})
	case err != nil:
		return err
	case live.Labels[istiocrds.Label] != "true":
		return nil
	}
	conditional := crd.DeepCopy()
	conditional.SetResourceVersion(live.ResourceVersion)
	return r.Applier.Apply(ctx, []*unstructured.Unstructured{conditional})
}
