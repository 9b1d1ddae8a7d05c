package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// CAStatusReconciler reports the mesh CA the control plane runs in each MeshOperator's
// status: status.ca with the root's and signing certificate's expiry, and the CAReady and
// CertificatesExpiring conditions. It is apart from the lifecycle reconciler because it
// reads what the control plane publishes, on its own schedule (caRecheck).
type CAStatusReconciler struct {
	client.Client
	// APIReader reads the CA state ConfigMap, which the manager's cache does not hold;
	// SetupWithManager sets it to a cache of those ConfigMaps alone.
	APIReader client.Reader
	Recorder  recorder.EventRecorder
	Clock     clock.PassiveClock
}

// Reconcile updates one mesh's CA status.
func (r *CAStatusReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	ctx, span := startReconcile(ctx, "CAStatus", req)
	defer func() { endReconcile(span, res, err) }()
	mesh := &operatorv1alpha1.MeshOperator{}
	if err := r.Get(ctx, req.NamespacedName, mesh); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !mesh.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	reader := r.APIReader
	if reader == nil {
		reader = r.Client
	}
	data, err := observeCA(ctx, reader, mesh.Spec.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	now := clock.PassiveClock(clock.RealClock{})
	if r.Clock != nil {
		now = r.Clock
	}
	j := judgeCA(data, now.Now())
	next := mesh.Status.DeepCopy()
	next.CA = j.status
	set := func(t string, s metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&next.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: mesh.Generation})
	}
	set(operatorv1alpha1.ConditionCAReady, j.ready, j.readyReason, j.readyMsg)
	set(operatorv1alpha1.ConditionCertificatesExpiring, j.expiring, j.expiringReason, j.expiryMsg)
	if equality.Semantic.DeepEqual(&mesh.Status, next) {
		return ctrl.Result{RequeueAfter: caRecheck}, nil
	}
	before := mesh.Status.Conditions
	mesh.Status = *next
	if err := r.Status().Update(ctx, mesh); err != nil {
		return ctrl.Result{}, err
	}
	r.announce(mesh, before)
	return ctrl.Result{RequeueAfter: caRecheck}, nil
}

// announce records a Warning when the CA turns unready or certificates start expiring.
func (r *CAStatusReconciler) announce(mesh *operatorv1alpha1.MeshOperator, before []metav1.Condition) {
	if r.Recorder == nil {
		return
	}
	for _, w := range []struct {
		typ string
		bad metav1.ConditionStatus
	}{{operatorv1alpha1.ConditionCAReady, metav1.ConditionFalse}, {operatorv1alpha1.ConditionCertificatesExpiring, metav1.ConditionTrue}} {
		c, old := meta.FindStatusCondition(mesh.Status.Conditions, w.typ), meta.FindStatusCondition(before, w.typ)
		if c != nil && c.Status == w.bad && (old == nil || old.Status != c.Status || old.Message != c.Message) {
			r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, c.Reason, "Reconcile", "%s=%s: %s", c.Type, c.Status, c.Message)
		}
	}
}

// SetupWithManager registers the reconciler for MeshOperators and for the CA state
// ConfigMaps (a cache of its own holds only those, by name), so that a change of the CA is in
// status at once; the periodic recheck only moves expiry against the clock.
func (r *CAStatusReconciler) SetupWithManager(mgr ctrl.Manager) error {
	states, err := newCAStateCache(mgr)
	if err != nil {
		return err
	}
	r.APIReader = states
	return ctrl.NewControllerManagedBy(mgr).For(&operatorv1alpha1.MeshOperator{}).Named("meshoperator-ca").
		WatchesRawSource(source.Kind(states, client.Object(&corev1.ConfigMap{}), handler.EnqueueRequestsFromMapFunc(meshesOfNamespace(r.Client)))).
		Complete(r)
}

// meshesOfNamespace wakes the meshes whose namespace an object the control plane publishes
// (the CA state, proxy counts) is in.
func meshesOfNamespace(c client.Reader) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		list := &operatorv1alpha1.MeshOperatorList{}
		if err := c.List(ctx, list); err != nil {
			return nil
		}
		var out []reconcile.Request
		for _, m := range list.Items {
			if m.Spec.Namespace == obj.GetNamespace() {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: m.Name}})
			}
		}
		return out
	}
}

// newCAStateCache is a cache of the CA state ConfigMaps alone (by name), added to the manager:
// the manager's own cache holds only the objects the operator manages.
func newCAStateCache(mgr ctrl.Manager) (cache.Cache, error) {
	states, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {Field: fields.OneTermEqualSelector("metadata.name", operatorv1alpha1.CAStateConfigMap)},
		},
	})
	if err != nil {
		return nil, err
	}
	return states, mgr.Add(states)
}
