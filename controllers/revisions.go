package controllers

import (
	"context"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/values"
)

// revisionLabel selects the control-plane revision of namespaces and pods, as in Istio.
const revisionLabel = "istio.io/rev"

// revisionRecord is a control-plane revision kept running beside the current one.
type revisionRecord struct {
	Spec operatorv1alpha1.MeshOperatorSpec `json:"spec"`
	// UnusedSince is when no namespace or workload was seen using the revision.
	UnusedSince *metav1.Time `json:"unusedSince,omitempty"`
}

func revisionName(spec *operatorv1alpha1.MeshOperatorSpec) string {
	if rev := values.Revision(spec); rev != "" {
		return rev
	}
	return "default"
}

// retainedRevisions are the revisions other than the spec's that still run, oldest name first.
func (st *meshState) retainedRevisions(spec *operatorv1alpha1.MeshOperatorSpec) []string {
	current := revisionName(spec)
	var names []string
	for name := range st.Revisions {
		if name != current {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// keepRevision records the revision a spec runs, so that it keeps running once the spec moves on.
func (st *meshState) keepRevision(spec *operatorv1alpha1.MeshOperatorSpec) {
	if st.Revisions == nil {
		st.Revisions = map[string]*revisionRecord{}
	}
	st.Revisions[revisionName(spec)] = &revisionRecord{Spec: *spec.DeepCopy()}
}

// revisionInUse reports whether a namespace or a workload pod (not one of Loom's own) still
// selects the revision.
func (r *MeshOperatorReconciler) revisionInUse(ctx context.Context, rev string) (bool, error) {
	namespaces := &corev1.NamespaceList{}
	if err := r.List(ctx, namespaces, client.MatchingLabels{revisionLabel: rev}); err != nil {
		return false, err
	}
	if len(namespaces.Items) > 0 {
		return true, nil
	}
	// Pods are listed from the apiserver, by label: caching every pod's metadata is not worth it.
	pods := &metav1.PartialObjectMetadataList{}
	pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	if err := r.uncached().List(ctx, pods, client.MatchingLabels{revisionLabel: rev}); err != nil {
		return false, err
	}
	for _, p := range pods.Items {
		if p.Labels["app.kubernetes.io/part-of"] != "loom" {
			return true, nil
		}
	}
	return false, nil
}

// retireRevisions drops the retained revisions unused for the grace period; their objects
// are pruned as removed components. It returns when to look again, or 0.
func (r *MeshOperatorReconciler) retireRevisions(ctx context.Context, mesh *operatorv1alpha1.MeshOperator, st *meshState, now time.Time) (time.Duration, bool, error) {
	grace := time.Hour
	if g := mesh.Spec.UpdateStrategy.RevisionGracePeriod; g != nil {
		grace = g.Duration
	}
	var next time.Duration
	changed := false
	for _, name := range st.retainedRevisions(&mesh.Spec) {
		rec := st.Revisions[name]
		inUse, err := r.revisionInUse(ctx, name)
		if err != nil {
			return 0, changed, err
		}
		switch {
		case inUse:
			if rec.UnusedSince != nil {
				rec.UnusedSince, changed = nil, true
			}
			next = minPositive(next, revisionPoll)
		case rec.UnusedSince == nil:
			rec.UnusedSince, changed = &metav1.Time{Time: now}, true
			next = minPositive(next, grace)
		case now.Sub(rec.UnusedSince.Time) >= grace:
			delete(st.Revisions, name)
			changed = true
		default:
			next = minPositive(next, grace-now.Sub(rec.UnusedSince.Time))
		}
	}
	return next, changed, nil
}

// revisionPoll is how often a revision in use is checked again: namespace and pod labels
// are not watched.
const revisionPoll = 5 * time.Second

func minPositive(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return b
	}
	return a
}
