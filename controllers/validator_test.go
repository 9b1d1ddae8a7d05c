package controllers

import (
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

func TestValidatorServes(t *testing.T) {
	fail, ignore := admissionregistrationv1.Fail, admissionregistrationv1.Ignore
	hook := func(policy admissionregistrationv1.FailurePolicyType, caBundle string) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{FailurePolicy: &policy, ClientConfig: admissionregistrationv1.WebhookClientConfig{CABundle: []byte(caBundle)}}
	}
	validator := func(hooks ...admissionregistrationv1.ValidatingWebhook) *admissionregistrationv1.ValidatingWebhookConfiguration {
		return &admissionregistrationv1.ValidatingWebhookConfiguration{Webhooks: hooks}
	}
	for _, tc := range []struct {
		name  string
		live  *admissionregistrationv1.ValidatingWebhookConfiguration
		ready bool
		want  bool
	}{
		{"not installed yet", nil, true, false},
		{"installed, control plane not Ready", validator(hook(ignore, "ca"), hook(ignore, "ca")), false, false},
		{"control plane Ready, no CA bundle yet", validator(hook(ignore, ""), hook(ignore, "")), true, false},
		{"control plane Ready, one webhook without CA bundle", validator(hook(ignore, "ca"), hook(ignore, "")), true, false},
		{"control plane Ready, CA bundles in place", validator(hook(ignore, "ca"), hook(ignore, "ca")), true, true},
		{"failing closed already stays so, Ready or not", validator(hook(fail, "ca"), hook(ignore, "ca")), false, true},
		{"failing closed already, from an earlier Loom without CA bundle", validator(hook(fail, "")), false, true},
	} {
		if got := validatorServes(tc.live, tc.ready); got != tc.want {
			t.Errorf("%s: validatorServes = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFailOpenUntilServing(t *testing.T) {
	validator := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
		"metadata": map[string]any{"name": "v"},
		"webhooks": []any{
			map[string]any{"name": "rev.validation.loom.dev", "failurePolicy": "Fail"},
			map[string]any{"name": "rev.root.validation.loom.dev", "failurePolicy": "Ignore"},
		},
	}}
	injector := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
		"metadata": map[string]any{"name": "i"},
		"webhooks": []any{map[string]any{"name": "rev.sidecar-injector.loom.dev", "failurePolicy": "Fail"}},
	}}
	c := component{name: "control-plane", kind: operatorv1alpha1.ComponentControlPlane, objects: []*unstructured.Unstructured{validator, injector}}
	policies := func(obj *unstructured.Unstructured) []any {
		hooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
		var out []any
		for _, h := range hooks {
			out = append(out, h.(map[string]any)["failurePolicy"])
		}
		return out
	}

	open := failOpenUntilServing(c, false)
	if got := policies(open.objects[0]); got[0] != "Ignore" || got[1] != "Ignore" {
		t.Errorf("validator before it serves: failure policies %v, want Ignore for both", got)
	}
	if got := policies(open.objects[1]); got[0] != "Fail" {
		t.Errorf("the injector's failure policy became %v: only validators fail open", got)
	}
	if got := policies(validator); got[0] != "Fail" {
		t.Errorf("the rendered validator, shared with the cached plan, was changed to %v", got)
	}
	if closed := failOpenUntilServing(c, true); policies(closed.objects[0])[0] != "Fail" {
		t.Error("a serving validator does not fail closed as rendered")
	}
}
