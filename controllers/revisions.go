package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
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

// injectionLabel, on a namespace, selects the default revision and overrides istio.io/rev,
// as Istio's injection webhooks' namespace selectors do.
const injectionLabel = "istio-injection"

// namespacesUsing counts the namespaces that select a revision.
func (r *MeshOperatorReconciler) namespacesUsing(ctx context.Context, rev string) (int32, error) {
	selectors := []string{revisionLabel + "=" + rev + ",!" + injectionLabel}
	if rev == "default" {
		selectors = append(selectors, injectionLabel+"=enabled")
	}
	var n int32
	for _, s := range selectors {
		sel, err := labels.Parse(s)
		if err != nil {
			return 0, fmt.Errorf("revision %q: %w", rev, err)
		}
		namespaces := &corev1.NamespaceList{}
		if err := r.List(ctx, namespaces, client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return 0, err
		}
		n += int32(len(namespaces.Items))
	}
	return n, nil
}

// observeUsage counts, for each revision, the namespaces and the workload pods (not Loom's
// own) that select it.
func (r *MeshOperatorReconciler) observeUsage(ctx context.Context, revisions []string) (map[string]revisionUsage, error) {
	usage := make(map[string]revisionUsage, len(revisions))
	for _, rev := range revisions {
		namespaces, err := r.namespacesUsing(ctx, rev)
		if err != nil {
			return nil, err
		}
		// Pods are listed from the apiserver, by label: caching every pod's metadata is not worth it.
		pods := &metav1.PartialObjectMetadataList{}
		pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
		if err := r.uncached().List(ctx, pods, client.MatchingLabels{revisionLabel: rev}); err != nil {
			return nil, err
		}
		u := revisionUsage{Namespaces: namespaces}
		for _, p := range pods.Items {
			if p.Labels["app.kubernetes.io/part-of"] != "loom" {
				u.Workloads++
			}
		}
		usage[rev] = u
	}
	return usage, nil
}
