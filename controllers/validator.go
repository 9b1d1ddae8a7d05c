package controllers

import (
	"context"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// Istio's validator is installed failing open (failurePolicy Ignore) and switched to Fail once
// its webhook answers: a control plane being installed, whose webhook cannot answer yet, must
// not refuse every Istio object in the cluster. Loom's operator does the same: until a
// control plane's validator serves, its webhooks that the chart renders Fail are applied as
// Ignore. Once applied as Fail, a validator stays Fail, as istiod leaves it.

// validatorProbeRetry is how soon a validator that did not answer the probe is probed again.
const validatorProbeRetry = 5 * time.Second

// withValidatorsFailingOpen applies failOpenUntilServing to every control-plane component,
// judged on the component's status, its live validator and, as istiod does before failing
// closed, a dry run the validator must deny. retry is set while a probe goes unanswered.
func (r *MeshOperatorReconciler) withValidatorsFailingOpen(ctx context.Context, mesh *operatorv1alpha1.MeshOperator, components []component) (_ []component, retry time.Duration, _ error) {
	ready := map[string]bool{}
	for _, c := range mesh.Status.Components {
		ready[c.Name] = c.Ready
	}
	out := make([]component, len(components))
	for i, c := range components {
		out[i] = c
		if c.kind != operatorv1alpha1.ComponentControlPlane {
			continue
		}
		serving := true
		var toProbe []*admissionregistrationv1.ValidatingWebhookConfiguration
		for _, obj := range c.objects {
			if obj.GetKind() != "ValidatingWebhookConfiguration" {
				continue
			}
			live := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			err := r.Get(ctx, client.ObjectKeyFromObject(obj), live)
			switch {
			case apierrors.IsNotFound(err):
				live = nil
			case err != nil:
				return nil, 0, err
			}
			serving = serving && validatorServes(live, ready[c.name])
			if live != nil && !failsClosed(live) {
				toProbe = append(toProbe, live)
			}
		}
		for _, live := range toProbe {
			if !serving {
				break
			}
			if !r.validatorAnswers(ctx, mesh, live) {
				serving, retry = false, validatorProbeRetry
			}
		}
		out[i] = failOpenUntilServing(c, serving)
	}
	return out, retry, nil
}

// validatorServes decides whether a validator may fail closed once it answers: it already
// does (live, as applied before), or its control plane is Ready and every webhook of it has
// the CA bundle that lets the apiserver call it.
func validatorServes(live *admissionregistrationv1.ValidatingWebhookConfiguration, controlPlaneReady bool) bool {
	if live == nil || len(live.Webhooks) == 0 {
		return false
	}
	if failsClosed(live) {
		return true
	}
	for _, w := range live.Webhooks {
		if len(w.ClientConfig.CABundle) == 0 {
			return false
		}
	}
	return controlPlaneReady
}

// failsClosed reports whether any webhook of the validator has failurePolicy Fail.
func failsClosed(live *admissionregistrationv1.ValidatingWebhookConfiguration) bool {
	for _, w := range live.Webhooks {
		if w.FailurePolicy != nil && *w.FailurePolicy == admissionregistrationv1.Fail {
			return true
		}
	}
	return false
}

// failOpenUntilServing returns c with the Fail webhooks of its validators set to Ignore
// unless serving; c's objects are left as they are (they belong to the cached plan).
func failOpenUntilServing(c component, serving bool) component {
	if serving {
		return c
	}
	objects := make([]*unstructured.Unstructured, len(c.objects))
	for i, obj := range c.objects {
		objects[i] = obj
		if obj.GetKind() != "ValidatingWebhookConfiguration" {
			continue
		}
		hooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
		for _, h := range hooks {
			if hook, ok := h.(map[string]any); ok && hook["failurePolicy"] == string(admissionregistrationv1.Fail) {
				hook["failurePolicy"] = string(admissionregistrationv1.Ignore)
			}
		}
		objects[i] = obj.DeepCopy()
		_ = unstructured.SetNestedSlice(objects[i].Object, hooks, "webhooks")
	}
	c.objects = objects
	return c
}
