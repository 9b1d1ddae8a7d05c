package controllers

import (
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
)

// Labels that tie every managed object to its MeshOperator and component.
const (
	LabelMesh      = "operator.loom.dev/mesh"
	LabelComponent = "operator.loom.dev/component"
	// LabelCreatedBy marks a namespace the operator created, and so may delete.
	LabelCreatedBy = "operator.loom.dev/created-by"
)

// managedKinds are every kind a chart may render, in install order: each is watched and
// judged for readiness, and pruning and uninstall look for leftovers among them. A chart
// that renders a new kind (a StatefulSet, say) needs it here and in the RBAC markers.
var managedKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "ServiceAccount"},
	{Version: "v1", Kind: "Secret"},
	{Version: "v1", Kind: "ConfigMap"},
	{Version: "v1", Kind: "PersistentVolumeClaim"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
	{Version: "v1", Kind: "Service"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"},
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "MutatingWebhookConfiguration"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingWebhookConfiguration"},
}

// ManagedKinds returns the kinds the operator installs and prunes.
func ManagedKinds() []schema.GroupVersionKind { return slices.Clone(managedKinds) }

// labelObjects adds the ownership labels to each object's metadata.
func labelObjects(objs []*unstructured.Unstructured, mesh, component string) {
	for _, o := range objs {
		l := o.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		l[LabelMesh] = mesh
		l[LabelComponent] = component
		o.SetLabels(l)
	}
}

// ownedBy selects a mesh's objects, or one component's when component is not empty.
func ownedBy(mesh, component string) labels.Selector {
	sel := labels.SelectorFromSet(labels.Set{LabelMesh: mesh})
	if component != "" {
		req, _ := labels.NewRequirement(LabelComponent, selection.Equals, []string{component})
		sel = sel.Add(*req)
	}
	return sel
}

// notComponents selects a mesh's objects outside the given components.
func notComponents(mesh string, components []string) (labels.Selector, error) {
	req, err := labels.NewRequirement(LabelComponent, selection.NotIn, components)
	if err != nil {
		return nil, err
	}
	return ownedBy(mesh, "").Add(*req), nil
}
