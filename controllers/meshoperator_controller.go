// Package controllers holds the operator's reconcilers, one per kind.
package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// MeshOperatorReconciler reconciles MeshOperator objects.
type MeshOperatorReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=operator.loom.dev,resources=meshoperators,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=operator.loom.dev,resources=meshoperators/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=operator.loom.dev,resources=meshoperators/finalizers,verbs=update

// Reconcile records that the latest spec was observed. No mesh component is installed yet:
// the install pipeline arrives with the MeshOperator lifecycle work.
func (r *MeshOperatorReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	mesh := &operatorv1alpha1.MeshOperator{}
	if err := r.Get(ctx, req.NamespacedName, mesh); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	desired := mesh.Status.DeepCopy()
	desired.ObservedGeneration = mesh.Generation
	meta.SetStatusCondition(&desired.Conditions, metav1.Condition{
		Type:               operatorv1alpha1.ConditionReconciled,
		Status:             metav1.ConditionTrue,
		Reason:             "SpecAccepted",
		Message:            "spec accepted; no mesh components are installed by this operator version",
		ObservedGeneration: mesh.Generation,
	})
	if equality.Semantic.DeepEqual(&mesh.Status, desired) {
		return ctrl.Result{}, nil
	}

	mesh.Status = *desired
	if err := r.Status().Update(ctx, mesh); err != nil {
		return ctrl.Result{}, err
	}
	log.FromContext(ctx).Info("reconciled", "generation", mesh.Generation)
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler with the manager.
func (r *MeshOperatorReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&operatorv1alpha1.MeshOperator{}).
		Named("meshoperator").
		Complete(r)
}
