package controllers

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/source"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// proxiesRecheck is how often a mesh whose control plane reported is looked at again even
// if no report changed: a control-plane pod that stopped without withdrawing its counts
// drops out of status by then.
const proxiesRecheck = 30 * time.Second

// controlPlanePods selects the control-plane pods of every revision.
var controlPlanePods = client.MatchingLabels{"app.kubernetes.io/name": "loom-control-plane"}

// ProxyStatusReconciler reports in each MeshOperator's status.proxies how many proxies its
// control plane serves and how many are out of date, per revision, from what the running
// control-plane pods publish (see v1alpha1.ProxyStatusConfigMapPrefix).
type ProxyStatusReconciler struct {
	client.Client
	// Reports reads the proxy status ConfigMaps; SetupWithManager sets it to a cache of
	// those ConfigMaps alone.
	Reports client.Reader
	// Pods lists the control-plane pods; the client when nil.
	Pods client.Reader
}

// Reconcile updates one mesh's status.proxies.
func (r *ProxyStatusReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	ctx, span := startReconcile(ctx, "ProxyStatus", req)
	defer func() { endReconcile(span, res, err) }()
	mesh := &operatorv1alpha1.MeshOperator{}
	if err := r.Get(ctx, req.NamespacedName, mesh); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !mesh.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	reports := &corev1.ConfigMapList{}
	if err := r.reports().List(ctx, reports, client.InNamespace(mesh.Spec.Namespace), client.MatchingLabels{operatorv1alpha1.LabelProxyStatus: "true"}); err != nil {
		return ctrl.Result{}, err
	}
	pods := &corev1.PodList{}
	if len(reports.Items) > 0 {
		if err := r.pods().List(ctx, pods, client.InNamespace(mesh.Spec.Namespace), controlPlanePods); err != nil {
			return ctrl.Result{}, err
		}
	}
	proxies, problems := summarizeProxies(reports.Items, runningPods(pods.Items))
	for _, p := range problems {
		log.FromContext(ctx).Info("proxy counts ignored", "problem", p)
	}
	result := ctrl.Result{}
	if len(reports.Items) > 0 {
		result.RequeueAfter = proxiesRecheck
	}
	if equality.Semantic.DeepEqual(mesh.Status.Proxies, proxies) {
		return result, nil
	}
	mesh.Status.Proxies = proxies
	return result, r.Status().Update(ctx, mesh)
}

func (r *ProxyStatusReconciler) reports() client.Reader {
	if r.Reports != nil {
		return r.Reports
	}
	return r.Client
}

func (r *ProxyStatusReconciler) pods() client.Reader {
	if r.Pods != nil {
		return r.Pods
	}
	return r.Client
}

// SetupWithManager registers the reconciler for MeshOperators and for the proxy status
// ConfigMaps (a cache of its own holds only those, by label), so that a report is in status
// at once.
func (r *ProxyStatusReconciler) SetupWithManager(mgr ctrl.Manager) error {
	reports, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {Label: labels.SelectorFromSet(labels.Set{operatorv1alpha1.LabelProxyStatus: "true"})},
		},
	})
	if err != nil {
		return err
	}
	if err := mgr.Add(reports); err != nil {
		return err
	}
	r.Reports = reports
	return ctrl.NewControllerManagedBy(mgr).For(&operatorv1alpha1.MeshOperator{}).Named("meshoperator-proxies").
		WatchesRawSource(source.Kind(reports, client.Object(&corev1.ConfigMap{}), handler.EnqueueRequestsFromMapFunc(meshesOfNamespace(r.Client)))).
		Complete(r)
}
