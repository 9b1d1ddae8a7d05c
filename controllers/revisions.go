package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/values"
)

// revisionLabel selects the control-plane revision of namespaces and pods, as in Istio.
const revisionLabel = "istio.io/rev"

func revisionName(spec *operatorv1alpha1.MeshOperatorSpec) string {
	if rev := values.Revision(spec); rev != "" {
		return rev
	}
	return "default"
}

// observeUsage counts, for each revision, the namespaces and the workload pods (not Loom's
// own) that select it.
func (r *MeshOperatorReconciler) observeUsage(ctx context.Context, revisions []string) (map[string]revisionUsage, error) {
	usage := make(map[string]revisionUsage, len(revisions))
	for _, rev := range revisions {
		namespaces := &corev1.NamespaceList{}
		if err := r.List(ctx, namespaces, client.MatchingLabels{revisionLabel: rev}); err != nil {
			return nil, err
		}
		// Pods are listed from the apiserver, by label: caching every pod's metadata is not worth it.
		pods := &metav1.PartialObjectMetadataList{}
		pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
		if err := r.uncached().List(ctx, pods, client.MatchingLabels{revisionLabel: rev}); err != nil {
			return nil, err
		}
		u := revisionUsage{Namespaces: int32(len(namespaces.Items))}
		for _, p := range pods.Items {
			if p.Labels["app.kubernetes.io/part-of"] != "loom" {
				u.Workloads++
			}
		}
		usage[rev] = u
	}
	return usage, nil
}
