package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/values"
)

// statusBuilder computes a MeshOperator's status from what one reconcile saw.
type statusBuilder struct {
	spec   *operatorv1alpha1.MeshOperatorSpec
	gen    int64
	status operatorv1alpha1.MeshOperatorStatus
	// rollbackMsg explains the rollback in force for this generation, if any.
	rollbackMsg string
}

func newStatus(mesh *operatorv1alpha1.MeshOperator) *statusBuilder {
	st := mesh.Status.DeepCopy()
	st.ObservedGeneration = mesh.Generation
	st.Components = nil
	b := &statusBuilder{spec: &mesh.Spec, gen: mesh.Generation, status: *st}
	mc := &mesh.Spec.MeshConfig
	// The control plane reads spec.meshConfig with spec.values.controlPlane.meshConfig merged
	// over it; overrides that do not merge are reported as InvalidValues by the reconcile.
	if effective, err := values.EffectiveMeshConfig(&mesh.Spec); err == nil {
		mc = effective
	}
	b.meshConfigHonored(mc)
	return b
}

// meshConfigHonored states which fields of the mesh config the user asked for take no effect,
// whatever else the reconcile finds: it describes the spec, not what runs.
func (b *statusBuilder) meshConfigHonored(mc *operatorv1alpha1.MeshConfigSpec) {
	status, reason, msg := meshConfigHonored(mc)
	b.set(operatorv1alpha1.ConditionMeshConfigHonored, status, reason, msg)
}

func (b *statusBuilder) set(condType string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&b.status.Conditions, metav1.Condition{
		Type: condType, Status: status, Reason: reason, Message: msg, ObservedGeneration: b.gen,
	})
}

// failed records that the spec could not be acted on; what runs keeps running.
func (b *statusBuilder) failed(reason, msg string) {
	b.set(operatorv1alpha1.ConditionReconciled, metav1.ConditionFalse, reason, msg)
	b.set(operatorv1alpha1.ConditionDegraded, metav1.ConditionTrue, reason, msg)
	b.set(operatorv1alpha1.ConditionProgressing, metav1.ConditionFalse, reason, "no progress until the spec is fixed")
	if meta.FindStatusCondition(b.status.Conditions, operatorv1alpha1.ConditionReady) == nil {
		b.set(operatorv1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
	}
}

// waiting records a wait that is not a failure.
func (b *statusBuilder) waiting(msg string) {
	b.set(operatorv1alpha1.ConditionReconciled, metav1.ConditionFalse, operatorv1alpha1.ReasonInstalling, msg)
	b.set(operatorv1alpha1.ConditionProgressing, metav1.ConditionTrue, operatorv1alpha1.ReasonInstalling, msg)
	if meta.FindStatusCondition(b.status.Conditions, operatorv1alpha1.ConditionReady) == nil {
		b.set(operatorv1alpha1.ConditionReady, metav1.ConditionFalse, operatorv1alpha1.ReasonInstalling, msg)
	}
}

// rollBack records that the current generation failed and the last good one is restored.
func (b *statusBuilder) rollBack(msg string) {
	b.rollbackMsg = msg
	b.keepRolledBack()
}

// keepRolledBack restates a rollback over what summarize computed for the last good spec.
func (b *statusBuilder) keepRolledBack() {
	msg := b.rollbackMsg
	b.set(operatorv1alpha1.ConditionDegraded, metav1.ConditionTrue, operatorv1alpha1.ReasonRolledBack, msg)
	b.set(operatorv1alpha1.ConditionReconciled, metav1.ConditionFalse, operatorv1alpha1.ReasonRolledBack, msg)
	b.set(operatorv1alpha1.ConditionProgressing, metav1.ConditionFalse, operatorv1alpha1.ReasonRolledBack, "the last good configuration is serving; change the spec to try again")
}

// unhealthy records a component that did not become Ready in time and has nothing to roll back to.
func (b *statusBuilder) unhealthy(msg string) {
	b.set(operatorv1alpha1.ConditionDegraded, metav1.ConditionTrue, operatorv1alpha1.ReasonComponentUnhealthy, msg)
}

func (b *statusBuilder) firstUnready() operatorv1alpha1.ComponentStatus {
	for _, c := range b.status.Components {
		if !c.Ready {
			return c
		}
	}
	return operatorv1alpha1.ComponentStatus{}
}

func (b *statusBuilder) component(cs operatorv1alpha1.ComponentStatus) {
	b.status.Components = append(b.status.Components, cs)
}

// summarize sets the conditions from the components seen, out of total planned.
func (b *statusBuilder) summarize(total int) {
	revision := values.Revision(b.spec)
	if revision == "" {
		revision = "default"
	}
	allReady := len(b.status.Components) == total
	var waiting *operatorv1alpha1.ComponentStatus
	for i := range b.status.Components {
		if c := &b.status.Components[i]; !c.Ready {
			allReady, waiting = false, c
			break
		}
	}
	progressReason := operatorv1alpha1.ReasonInstalling
	if b.status.Version != "" && b.status.Version != b.spec.Version {
		progressReason = operatorv1alpha1.ReasonUpgrading
	}

	if len(b.status.Components) == total {
		b.set(operatorv1alpha1.ConditionReconciled, metav1.ConditionTrue, "Applied", fmt.Sprintf("all %d components applied", total))
	} else {
		b.set(operatorv1alpha1.ConditionReconciled, metav1.ConditionFalse, progressReason,
			fmt.Sprintf("waiting for %s to be Ready before installing the next components", waiting.Name))
	}
	b.set(operatorv1alpha1.ConditionDegraded, metav1.ConditionFalse, "AsExpected", "")
	if allReady {
		b.status.Version = b.spec.Version
		b.status.Revision = revision
		b.set(operatorv1alpha1.ConditionReady, metav1.ConditionTrue, operatorv1alpha1.ReasonReady, fmt.Sprintf("all %d components ready", total))
		b.set(operatorv1alpha1.ConditionProgressing, metav1.ConditionFalse, operatorv1alpha1.ReasonReady, "")
		return
	}
	b.set(operatorv1alpha1.ConditionReady, metav1.ConditionFalse, progressReason, waiting.Message)
	b.set(operatorv1alpha1.ConditionProgressing, metav1.ConditionTrue, progressReason, waiting.Message)
}

// revisions lists the revisions that run, the current one (target's) first, each with the
// readiness of its control plane as seen this reconcile. It alone writes status.revisions.
func (b *statusBuilder) revisions(mem memory, target *operatorv1alpha1.MeshOperatorSpec) {
	ready := map[string]bool{}
	for _, c := range b.status.Components {
		ready[c.Name] = c.Ready
	}
	current := revisionName(target)
	revs := []operatorv1alpha1.RevisionStatus{{Name: current, Version: target.Version, Ready: ready[controlPlaneComponent(target)]}}
	for _, name := range mem.retained(current) {
		spec := &mem.revisions[name].Spec
		revs = append(revs, operatorv1alpha1.RevisionStatus{Name: name, Version: spec.Version, Ready: ready[controlPlaneComponent(spec)]})
	}
	b.status.Revisions = revs
}

// writeStatus updates the status subresource when it changed.
func (r *MeshOperatorReconciler) writeStatus(ctx context.Context, mesh *operatorv1alpha1.MeshOperator, b *statusBuilder) error {
	recordComponents(mesh.Name, b.status.Components)
	if equality.Semantic.DeepEqual(mesh.Status, b.status) {
		return nil
	}
	before := mesh.Status.Conditions
	mesh.Status = b.status
	if err := r.Status().Update(ctx, mesh); err != nil {
		return err
	}
	r.emitConditionEvents(mesh, before)
	return nil
}
