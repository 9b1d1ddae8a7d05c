package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/validation"
)

// +kubebuilder:rbac:groups=networking.istio.io,resources=gateways,verbs=create

// A validator's CA bundle and its control plane's readiness do not show that the apiserver
// can call the webhook (a network policy, a wrong service port, a firewall). Before a
// validator fails closed the operator does what istiod does: it asks the apiserver to create,
// as a dry run, a Gateway carrying Istio's always-reject annotation that the validator's
// webhook selects. Only the webhook's denial shows that it answers; a validator failing open
// lets the Gateway through when its webhook cannot be called.

// validatorProbeTimeout bounds how long a reconcile waits for the apiserver's answer to a
// probe: a webhook that cannot be reached may hold it for the webhook's whole timeout.
const validatorProbeTimeout = 3 * time.Second

// unansweredProbes remembers when each validator last left a probe unanswered, so that it
// is probed again once per validatorProbeRetry whatever else makes the mesh reconcile.
type unansweredProbes struct {
	mu   sync.Mutex
	last map[types.UID]time.Time
}

// validatorAnswers probes live, at most once per validatorProbeRetry while it does not
// answer, and reports an unanswered probe as a Warning event on the mesh.
func (r *MeshOperatorReconciler) validatorAnswers(ctx context.Context, mesh *operatorv1alpha1.MeshOperator, live *admissionregistrationv1.ValidatingWebhookConfiguration) bool {
	now := r.clock().Now()
	u := &r.unanswered
	u.mu.Lock()
	last, failed := u.last[live.UID]
	u.mu.Unlock()
	if failed && now.Sub(last) < validatorProbeRetry {
		return false
	}
	probeCtx, cancel := context.WithTimeout(ctx, validatorProbeTimeout)
	defer cancel()
	answered, reason := r.probeValidator(probeCtx, live)
	u.mu.Lock()
	defer u.mu.Unlock()
	if answered {
		delete(u.last, live.UID)
		return true
	}
	if u.last == nil {
		u.last = map[types.UID]time.Time{}
	}
	for uid, at := range u.last {
		if now.Sub(at) > 10*validatorProbeRetry { // a validator gone since
			delete(u.last, uid)
		}
	}
	u.last[live.UID] = now
	log.FromContext(ctx).Info("validator keeps failing open: its webhook did not deny the probe", "validator", live.Name, "reason", reason)
	if len(reason) > 600 { // an Event's note holds 1 KiB at most
		reason = strings.ToValidUTF8(reason[:600], "") + "…"
	}
	if r.Recorder != nil {
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, ReasonValidatorNotAnswering, "Probe",
			"ValidatingWebhookConfiguration %s keeps failing open (failurePolicy Ignore): a dry-run Gateway its webhook must deny was not denied: %s", live.Name, reason)
	}
	return false
}

// ReasonValidatorNotAnswering is the reason of the Warning event of an unanswered probe.
const ReasonValidatorNotAnswering = "ValidatorNotAnswering"

// probeValidator dry-runs the probe Gateway against live's webhooks and judges the answer.
func (r *MeshOperatorReconciler) probeValidator(ctx context.Context, live *admissionregistrationv1.ValidatingWebhookConfiguration) (answered bool, reason string) {
	namespace, objectLabels, ok := probeTarget(live)
	if !ok {
		// Nothing to probe through (no webhook is reached by service): readiness and CA
		// bundle are all there is to go by.
		return true, ""
	}
	probe := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "Gateway",
		"spec": map[string]any{"servers": []any{map[string]any{
			"port":  map[string]any{"number": int64(80), "name": "http", "protocol": "HTTP"},
			"hosts": []any{"*"},
		}}},
	}}
	probe.SetGenerateName("loom-validator-probe-")
	probe.SetNamespace(namespace)
	probe.SetLabels(objectLabels)
	probe.SetAnnotations(map[string]string{validation.AlwaysRejectAnnotation: "true"})
	return probeVerdict(r.Create(ctx, probe, client.DryRunAll), validatorWebhookNames(live))
}

// probeTarget finds where a probe reaches one of live's webhooks: the namespace of the
// webhook's service, when its namespace selector selects that namespace, and the revision
// label its object selector asks for.
func probeTarget(live *admissionregistrationv1.ValidatingWebhookConfiguration) (namespace string, objectLabels map[string]string, ok bool) {
	for _, w := range live.Webhooks {
		if w.ClientConfig.Service == nil || !rulesCoverGateways(w.Rules) {
			continue
		}
		ns := w.ClientConfig.Service.Namespace
		if !selects(w.NamespaceSelector, map[string]string{"kubernetes.io/metadata.name": ns}) {
			continue
		}
		objectLabels = map[string]string{}
		if w.ObjectSelector != nil {
			for _, e := range w.ObjectSelector.MatchExpressions {
				if e.Key == revisionLabel && e.Operator == metav1.LabelSelectorOpIn && len(e.Values) > 0 {
					objectLabels[revisionLabel] = e.Values[0]
				}
			}
		}
		if selects(w.ObjectSelector, objectLabels) {
			return ns, objectLabels, true
		}
	}
	return "", nil, false
}

// selects reports whether a webhook's selector (nil: everything) selects objects with set.
func selects(selector *metav1.LabelSelector, set map[string]string) bool {
	if selector == nil {
		return true
	}
	s, err := metav1.LabelSelectorAsSelector(selector)
	return err == nil && s.Matches(labels.Set(set))
}

// rulesCoverGateways reports whether the rules send the creation of a networking.istio.io/v1
// Gateway to the webhook.
func rulesCoverGateways(rules []admissionregistrationv1.RuleWithOperations) bool {
	matches := func(values []string, v string) bool {
		for _, x := range values {
			if x == "*" || x == v {
				return true
			}
		}
		return false
	}
	for _, rule := range rules {
		if matches(stringsOf(rule.Operations), string(admissionregistrationv1.Create)) &&
			matches(rule.APIGroups, "networking.istio.io") && matches(rule.APIVersions, "v1") && matches(rule.Resources, "gateways") {
			return true
		}
	}
	return false
}

func stringsOf(ops []admissionregistrationv1.OperationType) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = string(op)
	}
	return out
}

func validatorWebhookNames(live *admissionregistrationv1.ValidatingWebhookConfiguration) []string {
	names := make([]string, len(live.Webhooks))
	for i, w := range live.Webhooks {
		names[i] = w.Name
	}
	return names
}

// probeVerdict judges the apiserver's answer to the probe as istiod does: a denial by one of
// the validator's webhooks means it answers; so does an apiserver without the Gateway kind
// (nothing to validate then) or with a webhook that cannot take a dry run (no probe can tell).
// An accepted probe, or any other error, means it does not answer yet.
func probeVerdict(err error, webhooks []string) (answered bool, reason string) {
	if err == nil {
		return false, "the apiserver accepted an object the validator denies: its webhook was not called or did not answer"
	}
	msg := err.Error()
	if strings.Contains(msg, "denied the request") {
		for _, name := range webhooks {
			if strings.Contains(msg, fmt.Sprintf("%q denied the request", name)) {
				return true, ""
			}
		}
		return false, "denied by another webhook: " + msg
	}
	if apimeta.IsNoMatchError(err) || (apierrors.IsNotFound(err) && strings.Contains(msg, "could not find the requested resource")) {
		return true, ""
	}
	if strings.Contains(msg, "does not support dry run") {
		return true, ""
	}
	return false, msg
}
