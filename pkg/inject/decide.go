package inject

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Decision says whether this injector injects a pod, and which rule decided.
type Decision struct {
	Inject bool
	Reason string
}

func skip(format string, args ...any) Decision {
	return Decision{Reason: fmt.Sprintf(format, args...)}
}

// Decide applies Istio's injection policy for this injector's revision:
// first the selectors of Istio's MutatingWebhookConfiguration (which
// injector a pod goes to), then Istio's injectRequired (the pod's own
// opt-out, host networking, system namespaces).
//
// Selection, as Istio's webhooks for a revision (and, for the default
// revision, its two legacy webhooks) select:
//   - namespace istio-injection=enabled: the default revision, unless the
//     pod is labelled sidecar.istio.io/inject=false; any other value of
//     istio-injection (e.g. disabled): nobody. It beats istio.io/rev.
//   - else namespace istio.io/rev=<rev>: that revision, unless the pod opts
//     out; the pod's istio.io/rev is ignored.
//   - else pod istio.io/rev=<rev>: that revision, unless the pod opts out.
//   - else pod sidecar.istio.io/inject=true: the default revision.
func Decide(ns Namespace, pod *corev1.Pod, s Settings) Decision {
	switch {
	case pod == nil:
		return skip("no pod")
	case ignoredNamespaces[ns.Name]:
		return skip("namespace %s is a Kubernetes system namespace", ns.Name)
	case s.MeshNamespace != "" && ns.Name == s.MeshNamespace:
		return skip("namespace %s is the mesh namespace", ns.Name)
	case pod.Spec.HostNetwork:
		return skip("pod uses hostNetwork")
	}
	if _, ok := pod.Annotations[annotationStatus]; ok {
		return skip("pod is already injected (annotation %s present)", annotationStatus)
	}
	selected := s.selects(ns.Labels, pod.Labels)
	if !selected.Inject {
		return selected
	}
	// injectRequired: the pod label wins over the deprecated annotation; a
	// value other than true/false falls back to the namespace's policy.
	optOut, from := pod.Annotations[annotationSidecarInject], "annotation"
	if v, ok := pod.Labels[labelSidecarInject]; ok {
		optOut, from = v, "label"
	}
	if optOut == "false" {
		return skip("pod %s %s=false", from, labelSidecarInject)
	}
	return selected
}

// selects evaluates the webhook selectors of Istio's injector for this
// revision against the namespace's and the pod's labels.
func (s Settings) selects(nsLabels, podLabels map[string]string) Decision {
	nsInjection, hasNSInjection := nsLabels[labelInjection]
	nsRev, hasNSRev := nsLabels[labelRev]
	podInject, hasPodInject := podLabels[labelSidecarInject]
	podRev, hasPodRev := podLabels[labelRev]
	podOptsOut := hasPodInject && podInject == "false"

	switch {
	case hasNSInjection:
		switch {
		case nsInjection != "enabled":
			return skip("namespace label %s=%q", labelInjection, nsInjection)
		case podOptsOut:
			return skip("pod label %s=false", labelSidecarInject)
		case !s.DefaultRevision:
			return skip("namespace label %s=enabled belongs to the default revision, not %s", labelInjection, s.revision())
		}
		return Decision{Inject: true, Reason: fmt.Sprintf("namespace label %s=enabled", labelInjection)}
	case hasNSRev:
		switch {
		case !s.servesRevision(nsRev):
			return skip("namespace label %s=%s selects another revision than %s", labelRev, nsRev, s.revision())
		case podOptsOut:
			return skip("pod label %s=false", labelSidecarInject)
		}
		return Decision{Inject: true, Reason: fmt.Sprintf("namespace label %s=%s", labelRev, nsRev)}
	case hasPodRev:
		switch {
		case !s.servesRevision(podRev):
			return skip("pod label %s=%s selects another revision than %s", labelRev, podRev, s.revision())
		case podOptsOut:
			return skip("pod label %s=false", labelSidecarInject)
		}
		return Decision{Inject: true, Reason: fmt.Sprintf("pod label %s=%s", labelRev, podRev)}
	case hasPodInject && podInject == "true":
		if !s.DefaultRevision {
			return skip("pod label %s=true without %s belongs to the default revision, not %s", labelSidecarInject, labelRev, s.revision())
		}
		return Decision{Inject: true, Reason: fmt.Sprintf("pod label %s=true", labelSidecarInject)}
	}
	return skip("neither namespace nor pod selects injection")
}
