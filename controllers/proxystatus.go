package controllers

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// summarizeProxies sums the proxy counts the control-plane pods published (one ConfigMap per
// revision, one key per pod), counting only the pods in running: a key a stopped or
// replaced pod left behind is ignored. Keys that do not parse are returned as problems. Nil
// when no running pod has reported.
func summarizeProxies(configMaps []corev1.ConfigMap, running map[string]bool) (*operatorv1alpha1.ProxiesStatus, []string) {
	out := &operatorv1alpha1.ProxiesStatus{}
	var problems []string
	for _, cm := range configMaps {
		revision := cm.Labels[operatorv1alpha1.LabelProxyStatusRevision]
		if revision == "" {
			revision = strings.TrimPrefix(cm.Name, operatorv1alpha1.ProxyStatusConfigMapPrefix)
		}
		rev := operatorv1alpha1.RevisionProxies{Revision: revision}
		for _, pod := range slices.Sorted(maps.Keys(cm.Data)) {
			if !running[pod] {
				continue
			}
			var c operatorv1alpha1.ProxyCounts
			if err := json.Unmarshal([]byte(cm.Data[pod]), &c); err != nil {
				problems = append(problems, fmt.Sprintf("ConfigMap %s/%s key %s: %v", cm.Namespace, cm.Name, pod, err))
				continue
			}
			rev.Connected += c.Connected
			rev.OutOfDate += c.OutOfDate
			rev.Reporting++
		}
		if rev.Reporting == 0 {
			continue
		}
		out.Revisions = append(out.Revisions, rev)
		out.Connected += rev.Connected
		out.OutOfDate += rev.OutOfDate
	}
	if len(out.Revisions) == 0 {
		return nil, problems
	}
	slices.SortFunc(out.Revisions, func(a, b operatorv1alpha1.RevisionProxies) int { return strings.Compare(a.Revision, b.Revision) })
	out.Summary = fmt.Sprintf("%d/%d current", out.Connected-out.OutOfDate, out.Connected)
	return out, problems
}

// runningPods names the pods that are running and not being deleted.
func runningPods(pods []corev1.Pod) map[string]bool {
	out := map[string]bool{}
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp.IsZero() {
			out[p.Name] = true
		}
	}
	return out
}
