package v1alpha1

// Each control-plane pod publishes how many proxies it serves into the ConfigMap
// ProxyStatusConfigMapPrefix+<revision> in the mesh namespace, under its own pod name (one
// server-side-apply field manager per pod); the operator sums the keys of pods that run.
const (
	ProxyStatusConfigMapPrefix = "loom-proxies-"
	// LabelProxyStatus marks those ConfigMaps (value "true").
	LabelProxyStatus = "operator.loom.dev/proxy-status"
	// LabelProxyStatusRevision names the revision a ConfigMap reports.
	LabelProxyStatusRevision = "operator.loom.dev/revision"
)

// ProxyStatusConfigMap is the name of a revision's proxy status ConfigMap.
func ProxyStatusConfigMap(revision string) string {
	if revision == "" {
		revision = "default"
	}
	return ProxyStatusConfigMapPrefix + revision
}

// ProxyCounts is one control-plane pod's report, the value of its key (JSON).
type ProxyCounts struct {
	// Connected is how many proxies (distinct node ids) hold an ADS stream to the pod.
	Connected int32 `json:"connected"`
	// OutOfDate is how many of them do not run the pod's current config yet: a newer config
	// is not sent yet, a response is not ACKed yet, or the last answer was a NACK.
	OutOfDate int32 `json:"outOfDate"`
	// TrustBundle identifies the mesh CA's trust bundle the pod serves (a hash; empty
	// without a CA).
	TrustBundle string `json:"trustBundle,omitempty"`
	// TrustBundleLagging is how many of the pod's agents subscribed to the trust bundle
	// have not acknowledged it yet. A root rotation switches signers only when every pod
	// reports the new bundle with none lagging.
	TrustBundleLagging int32 `json:"trustBundleLagging,omitempty"`
}

// ProxiesStatus is what the control plane reports about the proxies it serves.
type ProxiesStatus struct {
	// Connected is how many proxies are connected to the mesh's control plane.
	Connected int32 `json:"connected"`
	// OutOfDate is how many of them do not run the current config.
	OutOfDate int32 `json:"outOfDate"`
	// Summary is "<current>/<connected> current" (kubectl get mesh's PROXIES column).
	Summary string `json:"summary"`
	// Revisions are the counts per control-plane revision.
	// +listType=map
	// +listMapKey=revision
	// +optional
	Revisions []RevisionProxies `json:"revisions,omitempty"`
}

// RevisionProxies is one revision's proxies.
type RevisionProxies struct {
	// Revision as in the istio.io/rev label.
	Revision string `json:"revision"`
	// Connected and OutOfDate are summed over the revision's running control-plane pods.
	Connected int32 `json:"connected"`
	OutOfDate int32 `json:"outOfDate"`
	// Reporting is how many of the revision's running control-plane pods have reported.
	Reporting int32 `json:"reporting"`
}
