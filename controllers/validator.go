package controllers

import (
	"context"

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

// withValidatorsFailingOpen applies failOpenUntilServing to every control-plane component,
// judged on the component's status and its live validator.
func (r *MeshOperatorReconciler) withValidatorsFailingOpen(ctx context.Context, mesh *operatorv1alpha1.MeshOperator, components []component) ([]component, error) {
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
				return nil, err
			}
			serving = serving && validatorServes(live, ready[c.name])
		}
		out[i] = failOpenUntilServing(c, serving)
	}
	return out, nil
}

// validatorServes decides whether a validator may fail closed: it already does (live, as
// applied before), or its control plane is Ready and every webhook of it has the CA bundle
// that lets the apiserver call it.
func validatorServes(live *admissionregistrationv1.ValidatingWebhookConfiguration, controlPlaneReady bool) bool {
	if live == nil || len(live.Webhooks) == 0 {
		return false
	}
	caBundles := true
	for _, w := range live.Webhooks {
		if w.FailurePolicy != nil && *w.FailurePolicy == admissionregistrationv1.Fail {
			return true
		}
		caBundles = caBundles && len(w.ClientConfig.CABundle) > 0
	}
	return controlPlaneReady && caBundles
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
