package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/api/v1alpha1"
)

// newPeerBundleAcks reads what the other control-plane pods of the mesh namespace (every
// revision) report about the trust bundle.
func newPeerBundleAcks(client kubernetes.Interface, namespace, self string) func(context.Context, string) (bool, string) {
	return func(ctx context.Context, hash string) (bool, string) {
		cms, err := client.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelProxyStatus + "=true"})
		if err != nil {
			return false, fmt.Sprintf("cannot read the other control-plane pods' reports: %v", err)
		}
		pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Sprintf("cannot list the control-plane pods: %v", err)
		}
		return peersHoldBundle(cms.Items, livePods(pods.Items), self, hash)
	}
}

// livePods names the pods that exist and are not being deleted or finished: their proxy
// status keys count. A key of a pod that is gone serves no proxy.
func livePods(pods []corev1.Pod) map[string]bool {
	out := map[string]bool{}
	for _, p := range pods {
		if p.DeletionTimestamp.IsZero() && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out[p.Name] = true
		}
	}
	return out
}

// peersHoldBundle: every live control-plane pod but self reports that it serves the bundle
// with hash and that none of its subscribers lags behind it. A live pod that reports
// nothing parseable, or another bundle, holds the rotation back.
func peersHoldBundle(configMaps []corev1.ConfigMap, live map[string]bool, self, hash string) (bool, string) {
	for _, cm := range configMaps {
		for _, pod := range slices.Sorted(maps.Keys(cm.Data)) {
			if pod == self || !live[pod] {
				continue
			}
			var c v1alpha1.ProxyCounts
			if err := json.Unmarshal([]byte(cm.Data[pod]), &c); err != nil {
				return false, fmt.Sprintf("control-plane pod %s: unreadable report in ConfigMap %s: %v", pod, cm.Name, err)
			}
			switch {
			case c.TrustBundle != hash:
				return false, fmt.Sprintf("control-plane pod %s does not serve the new trust bundle yet", pod)
			case c.TrustBundleLagging > 0:
				return false, fmt.Sprintf("%d agents connected to control-plane pod %s have not acknowledged it", c.TrustBundleLagging, pod)
			}
		}
	}
	return true, ""
}
