package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// +kubebuilder:rbac:groups=operator.loom.dev,resources=meshrevisions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=operator.loom.dev,resources=meshrevisions/status,verbs=get;update;patch

// meshRevisionName names a mesh's MeshRevision: revision names hold no dot, so the name is
// unambiguous whatever the mesh is called.
func meshRevisionName(mesh, revision string) string { return mesh + "." + revision }

// loadMemory reads the rollback state and the mesh's MeshRevisions from the apiserver. A
// state ConfigMap in the old format, with the revisions inside, is migrated: its revisions
// become MeshRevisions and it is rewritten without them.
func (r *MeshOperatorReconciler) loadMemory(ctx context.Context, mesh *operatorv1alpha1.MeshOperator) (memory, error) {
	st, err := r.loadState(ctx, mesh)
	if err != nil {
		return memory{}, err
	}
	revs, err := r.loadRevisions(ctx, mesh)
	if err != nil {
		return memory{}, err
	}
	mem := memory{state: *st.deepCopy(), revisions: revs}
	if st.LegacyRevisions == nil {
		return mem, nil
	}
	for name, old := range st.LegacyRevisions {
		if _, ok := revs[name]; ok {
			continue
		}
		// The old operator recorded a revision once it was Ready, or as the last good one.
		revs[name] = &revisionRecord{Spec: old.Spec, LastGoodSpecHash: specHash(&old.Spec), UnusedSince: old.UnusedSince}
	}
	if err := r.syncRevisions(ctx, mesh, revs, nil); err != nil {
		return memory{}, fmt.Errorf("migrating the revisions of ConfigMap %s/%s to MeshRevisions: %w", mesh.Spec.Namespace, stateName(mesh.Name), err)
	}
	if err := r.saveState(ctx, mesh, &mem.state); err != nil {
		return memory{}, err
	}
	log.FromContext(ctx).Info("moved the revisions from the state ConfigMap to MeshRevisions", "revisions", len(st.LegacyRevisions))
	return mem, nil
}

// loadRevisions reads the mesh's MeshRevisions, by revision name, from the apiserver: retirement
// must not rest on a stale copy. Those of an earlier MeshOperator of the same name are ignored.
func (r *MeshOperatorReconciler) loadRevisions(ctx context.Context, mesh *operatorv1alpha1.MeshOperator) (map[string]*revisionRecord, error) {
	list := &operatorv1alpha1.MeshRevisionList{}
	if err := r.uncached().List(ctx, list, client.MatchingLabels{LabelMesh: mesh.Name}); err != nil {
		return nil, err
	}
	revs := map[string]*revisionRecord{}
	for i := range list.Items {
		mr := &list.Items[i]
		if owner := metav1.GetControllerOf(mr); owner == nil || owner.UID != mesh.UID || !mr.DeletionTimestamp.IsZero() {
			continue
		}
		rec := &revisionRecord{Spec: mr.Spec.MeshSpec, LastGoodSpecHash: mr.Status.LastGoodSpecHash, UnusedSince: mr.Status.UnusedSince}
		if c := meta.FindStatusCondition(mr.Status.Conditions, operatorv1alpha1.ConditionInUse); c != nil && c.Status != metav1.ConditionUnknown {
			rec.Usage = &revisionUsage{Namespaces: mr.Status.Namespaces, Workloads: mr.Status.Workloads}
		}
		revs[mr.Spec.Revision] = rec
	}
	return revs, nil
}

// syncRevisions makes the mesh's MeshRevisions those of revs, and deletes the others. The
// Ready condition comes from the components seen this reconcile; with none, it is kept.
func (r *MeshOperatorReconciler) syncRevisions(ctx context.Context, mesh *operatorv1alpha1.MeshOperator, revs map[string]*revisionRecord, components []operatorv1alpha1.ComponentStatus) error {
	live := &operatorv1alpha1.MeshRevisionList{}
	if err := r.uncached().List(ctx, live, client.MatchingLabels{LabelMesh: mesh.Name}); err != nil {
		return err
	}
	existing := map[string]*operatorv1alpha1.MeshRevision{}
	for i := range live.Items {
		mr := &live.Items[i]
		if _, ok := revs[mr.Spec.Revision]; ok && mr.Name == meshRevisionName(mesh.Name, mr.Spec.Revision) {
			existing[mr.Spec.Revision] = mr
			continue
		}
		if err := r.Delete(ctx, mr); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	for name, rec := range revs {
		if err := r.syncRevision(ctx, mesh, name, rec, existing[name], components); err != nil {
			return fmt.Errorf("MeshRevision %s: %w", meshRevisionName(mesh.Name, name), err)
		}
	}
	return nil
}

func (r *MeshOperatorReconciler) syncRevision(ctx context.Context, mesh *operatorv1alpha1.MeshOperator, name string, rec *revisionRecord,
	live *operatorv1alpha1.MeshRevision, components []operatorv1alpha1.ComponentStatus) error {
	want := &operatorv1alpha1.MeshRevision{
		ObjectMeta: metav1.ObjectMeta{Name: meshRevisionName(mesh.Name, name), Labels: map[string]string{LabelMesh: mesh.Name}},
		Spec: operatorv1alpha1.MeshRevisionSpec{
			Mesh: mesh.Name, Revision: name, Version: rec.Spec.Version, SpecHash: specHash(&rec.Spec), MeshSpec: rec.Spec,
		},
	}
	if err := controllerutil.SetControllerReference(mesh, want, r.Scheme()); err != nil {
		return err
	}
	mr := live
	switch {
	case mr == nil:
		mr = want.DeepCopy()
		if err := r.Create(ctx, mr); apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("exists already, but not as this MeshOperator's: %w", err)
		} else if err != nil {
			return err
		}
	case specDiffers(mr.Spec, want.Spec) || !equality.Semantic.DeepEqual(mr.OwnerReferences, want.OwnerReferences) ||
		mr.Labels[LabelMesh] != mesh.Name:
		mr.Spec, mr.OwnerReferences = want.Spec, want.OwnerReferences
		if mr.Labels == nil {
			mr.Labels = map[string]string{}
		}
		mr.Labels[LabelMesh] = mesh.Name
		if err := r.Update(ctx, mr); err != nil {
			return err
		}
	}
	status := revisionStatus(mr, rec, components)
	if equality.Semantic.DeepEqual(mr.Status, status) {
		return nil
	}
	mr.Status = status
	return r.Status().Update(ctx, mr)
}

// specDiffers compares MeshRevision specs by their hash, not by the stored meshSpec: raw chart
// values may come back from the apiserver formatted otherwise, and must not cause rewrites.
func specDiffers(a, b operatorv1alpha1.MeshRevisionSpec) bool {
	a.MeshSpec, b.MeshSpec = operatorv1alpha1.MeshOperatorSpec{}, operatorv1alpha1.MeshOperatorSpec{}
	return !equality.Semantic.DeepEqual(a, b)
}

// revisionStatus is a MeshRevision's status for what the operator knows of the revision.
func revisionStatus(mr *operatorv1alpha1.MeshRevision, rec *revisionRecord, components []operatorv1alpha1.ComponentStatus) operatorv1alpha1.MeshRevisionStatus {
	st := *mr.Status.DeepCopy()
	st.ObservedGeneration = mr.Generation
	st.UnusedSince = rec.UnusedSince
	st.LastGoodSpecHash = rec.LastGoodSpecHash
	set := func(condType string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: condType, Status: status, Reason: reason, Message: msg, ObservedGeneration: mr.Generation,
		})
	}
	switch u := rec.Usage; {
	case u == nil:
		set(operatorv1alpha1.ConditionInUse, metav1.ConditionUnknown, operatorv1alpha1.ReasonPending, "not looked at yet: usage is counted once the mesh is Ready")
	case u.inUse():
		st.Namespaces, st.Workloads = u.Namespaces, u.Workloads
		set(operatorv1alpha1.ConditionInUse, metav1.ConditionTrue, operatorv1alpha1.ReasonReferenced,
			fmt.Sprintf("%d namespaces and %d workload pods carry %s=%s", u.Namespaces, u.Workloads, revisionLabel, mr.Spec.Revision))
	default:
		st.Namespaces, st.Workloads = 0, 0
		set(operatorv1alpha1.ConditionInUse, metav1.ConditionFalse, operatorv1alpha1.ReasonNotReferenced,
			fmt.Sprintf("no namespace or workload pod carries %s=%s", revisionLabel, mr.Spec.Revision))
	}
	component := controlPlaneComponent(&rec.Spec)
	for _, c := range components {
		if c.Name != component {
			continue
		}
		if c.Ready {
			set(operatorv1alpha1.ConditionReady, metav1.ConditionTrue, operatorv1alpha1.ReasonReady, fmt.Sprintf("%s is Ready", component))
		} else {
			set(operatorv1alpha1.ConditionReady, metav1.ConditionFalse, operatorv1alpha1.ReasonNotReady, fmt.Sprintf("%s: %s", component, c.Message))
		}
		return st
	}
	if meta.FindStatusCondition(st.Conditions, operatorv1alpha1.ConditionReady) == nil {
		set(operatorv1alpha1.ConditionReady, metav1.ConditionUnknown, operatorv1alpha1.ReasonPending, fmt.Sprintf("%s not installed yet", component))
	}
	return st
}

// deleteRevisions removes the mesh's MeshRevisions at uninstall: garbage collection would
// too, but not on a cluster without it, and not before the MeshOperator is gone.
func (r *MeshOperatorReconciler) deleteRevisions(ctx context.Context, mesh *operatorv1alpha1.MeshOperator) error {
	list := &operatorv1alpha1.MeshRevisionList{}
	if err := r.uncached().List(ctx, list, client.MatchingLabels{LabelMesh: mesh.Name}); err != nil {
		return err
	}
	for i := range list.Items {
		if err := r.Delete(ctx, &list.Items[i]); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}
