package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/apply"
	"loom.dev/loom/pkg/render"
	"loom.dev/loom/pkg/values"
)

// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=podmonitors;servicemonitors;prometheusrules,verbs=get;list;watch;create;update;patch;delete

// monitorsComponent holds the Prometheus Operator's objects (spec.addons.prometheusOperator).
const monitorsComponent = "addon-" + values.MonitorsChart

// monitoringGroup is the Prometheus Operator's API group.
const monitoringGroup = "monitoring.coreos.com"

// monitorKinds are the Prometheus Operator's kinds the monitors component may hold. They are
// not managedKinds: their CRDs may be missing, or come and go, so they are neither watched
// nor cached, and are read from the apiserver.
var monitorKinds = []schema.GroupVersionKind{
	{Group: monitoringGroup, Version: "v1", Kind: "PodMonitor"},
	{Group: monitoringGroup, Version: "v1", Kind: "ServiceMonitor"},
	{Group: monitoringGroup, Version: "v1", Kind: "PrometheusRule"},
}

// monitoringCRDs names the CRDs of monitorKinds.
func monitoringCRDs() []string {
	names := make([]string, len(monitorKinds))
	for i, gvk := range monitorKinds {
		names[i] = strings.ToLower(gvk.Kind) + "s." + gvk.Group
	}
	return names
}

// monitorsSupport applies the monitors with reads from the apiserver: the manager's cache
// would start an informer for each monitoring kind, which fails for good once the
// Prometheus Operator's CRDs are removed.
type monitorsSupport struct {
	once    sync.Once
	applier *apply.Applier
}

func (r *MeshOperatorReconciler) monitorsApplier() *apply.Applier {
	r.monitors.once.Do(func() {
		r.monitors.applier = &apply.Applier{Client: readThrough{Client: r.Client, reader: r.uncached()}}
	})
	return r.monitors.applier
}

// readThrough is a client that reads from reader and writes through Client.
type readThrough struct {
	client.Client
	reader client.Reader
}

func (c readThrough) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.reader.Get(ctx, key, obj, opts...)
}

func (c readThrough) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.reader.List(ctx, list, opts...)
}

// monitoringCRDsInstalled reports whether the cluster serves PodMonitor, ServiceMonitor and
// PrometheusRule at monitoring.coreos.com/v1: each CRD exists, is Established and serves v1.
// It reads the CRDs from the cache, which the reconciler watches, without copying them.
func (r *MeshOperatorReconciler) monitoringCRDsInstalled(ctx context.Context) bool {
	for _, name := range monitoringCRDs() {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := r.Get(ctx, client.ObjectKey{Name: name}, crd, client.UnsafeDisableDeepCopy); err != nil {
			return false
		}
		if !crdEstablished(crd) || !slices.ContainsFunc(crd.Spec.Versions, func(v apiextensionsv1.CustomResourceDefinitionVersion) bool {
			return v.Name == "v1" && v.Served
		}) {
			return false
		}
	}
	return true
}

func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

// monitorsValues renders the prometheus-monitors chart's values, with the rules file of the
// Prometheus add-on's chart as that chart renders it.
func (r *MeshOperatorReconciler) monitorsValues(mesh *operatorv1alpha1.MeshOperator) (map[string]any, error) {
	rules, err := addonRules(r.Renderer, mesh)
	if err != nil {
		return nil, err
	}
	return values.PrometheusMonitors(&mesh.Spec, rules)
}

// addonRules returns the rules file the Prometheus add-on mounts: the key loom.rules.yaml of
// its ConfigMap prometheus-rules, rendered with the chart's defaults.
func addonRules(renderer *render.Renderer, mesh *operatorv1alpha1.MeshOperator) (string, error) {
	objs, err := renderer.Render(render.Prometheus, render.Release{Name: mesh.Name, Namespace: mesh.Spec.Namespace}, nil)
	if err != nil {
		return "", fmt.Errorf("reading the Prometheus add-on's rules: %w", err)
	}
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && o.GetName() == "prometheus-rules" {
			if rules, _, _ := unstructured.NestedString(o.Object, "data", "loom.rules.yaml"); rules != "" {
				return rules, nil
			}
		}
	}
	return "", fmt.Errorf("the Prometheus add-on's chart has no ConfigMap prometheus-rules with key loom.rules.yaml")
}

// installMonitors applies the monitors and prunes what their previous render had and this
// one lacks. Without the CRDs (mode Enabled) there is nothing to apply: readiness reports it.
func (r *MeshOperatorReconciler) installMonitors(ctx context.Context, mesh string, c component) error {
	if !r.monitoringCRDsInstalled(ctx) {
		return nil
	}
	a := r.monitorsApplier()
	if err := a.Apply(ctx, c.objects); err != nil {
		return err
	}
	_, err := a.PruneListedBy(ctx, r.uncached(), ownedBy(mesh, c.name), monitorKinds, c.objects)
	return err
}

// monitorsReadiness is Ready once the CRDs are served: the objects have no status, and
// applying them succeeded. Without the CRDs it names the field that asked for them.
func (r *MeshOperatorReconciler) monitorsReadiness(ctx context.Context, c component) operatorv1alpha1.ComponentStatus {
	st := operatorv1alpha1.ComponentStatus{Name: c.name, Kind: c.kind, Namespace: c.namespace, Version: c.version, Ready: true}
	if !r.monitoringCRDsInstalled(ctx) {
		st.Ready = false
		st.Message = fmt.Sprintf("spec.addons.prometheusOperator.mode is %s but the Prometheus Operator's CRDs (%s) are not installed: install them or set the mode to Auto",
			operatorv1alpha1.PrometheusOperatorEnabled, strings.Join(monitoringCRDs(), ", "))
	}
	return st
}

// pruneMonitors deletes the monitors that selector matches; nothing can exist without the CRDs.
func (r *MeshOperatorReconciler) pruneMonitors(ctx context.Context, selector labels.Selector) ([]string, error) {
	if !r.monitoringCRDsInstalled(ctx) {
		return nil, nil
	}
	return r.monitorsApplier().PruneListedBy(ctx, r.uncached(), selector, monitorKinds, nil)
}

// meshesUsingMonitoringCRD wakes every mesh when one of the Prometheus Operator's CRDs
// comes, goes or becomes Established: mode Auto creates the monitors then.
func (r *MeshOperatorReconciler) meshesUsingMonitoringCRD(ctx context.Context, obj client.Object) []reconcile.Request {
	if !slices.Contains(monitoringCRDs(), obj.GetName()) {
		return nil
	}
	return r.allMeshes(ctx)
}
