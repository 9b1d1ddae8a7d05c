// Package webhook serves the control plane's admission webhooks: sidecar injection for the
// revision this `loom discovery` belongs to. The decisions and the pod mutation are
// pkg/inject's pure functions; this package only speaks AdmissionReview.
package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"loom.dev/loom/pkg/inject"
)

// NamespaceGetter returns the namespace a pod is created in (its labels decide injection).
type NamespaceGetter func(ctx context.Context, name string) (inject.Namespace, error)

// Injector is the mutating webhook that adds the mesh's containers to pods.
type Injector struct {
	Settings   inject.Settings
	Namespaces NamespaceGetter
	requests   *prometheus.CounterVec
}

// NewInjector returns an injector counting its answers in
// loom_sidecar_injection_requests_total{result}.
func NewInjector(settings inject.Settings, namespaces NamespaceGetter, reg prometheus.Registerer) *Injector {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loom_sidecar_injection_requests_total",
		Help: "Pods seen by the sidecar injector, by result: injected, skipped (policy says no) or refused (bad annotations or an internal error).",
	}, []string{"result"})
	if reg != nil {
		reg.MustRegister(requests)
	}
	return &Injector{Settings: settings, Namespaces: namespaces, requests: requests}
}

// Handle injects the pod of a CREATE request when Istio's injection policy says so. A pod it
// cannot inject (bad annotation, unknown template) is refused with the reason rather than
// started without its proxy: an injected namespace never runs unmeshed pods silently.
func (i *Injector) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Kind.Kind != "Pod" || req.Kind.Group != "" {
		return admission.Allowed("not a pod")
	}
	pod := &corev1.Pod{}
	if err := json.Unmarshal(req.Object.Raw, pod); err != nil {
		i.count("refused")
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decoding the pod: %w", err))
	}
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	ns, err := i.Namespaces(ctx, pod.Namespace)
	if err != nil {
		i.count("refused")
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("namespace %s: %w", pod.Namespace, err))
	}
	decision := inject.Decide(ns, pod, i.Settings)
	if !decision.Inject {
		i.count("skipped")
		return admission.Allowed(decision.Reason)
	}
	injected, err := inject.Inject(ns, pod, i.Settings)
	if err != nil {
		i.count("refused")
		return admission.Denied(fmt.Sprintf("sidecar injection of pod %s: %v", podName(pod), err))
	}
	raw, err := json.Marshal(injected)
	if err != nil {
		i.count("refused")
		return admission.Errored(http.StatusInternalServerError, err)
	}
	i.count("injected")
	resp := admission.PatchResponseFromRaw(req.Object.Raw, raw)
	resp.Warnings = inject.Warnings(pod)
	if len(resp.Warnings) > 0 {
		// A ReplicaSet's pods are created by a controller that shows nobody the warnings.
		logf.FromContext(ctx).Info("injected; Istio settings not acted on", "pod", podName(pod), "warnings", resp.Warnings)
	}
	return resp
}

func (i *Injector) count(result string) { i.requests.WithLabelValues(result).Inc() }

// podName names a pod that may only have a generateName yet (pods of a ReplicaSet).
func podName(pod *corev1.Pod) string {
	name := pod.Name
	if name == "" {
		name = pod.GenerateName + "*"
	}
	return pod.Namespace + "/" + name
}
