package controllers

import (
	"errors"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"loom.dev/loom/api/v1alpha1"
)

// renderedValidator is the validator the chart renders for mesh.
func renderedValidator(t *testing.T, mesh *v1alpha1.MeshOperator) *admissionregistrationv1.ValidatingWebhookConfiguration {
	t.Helper()
	components, err := reconcilerWithCRDs(t).plan(mesh)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range components {
		for _, o := range c.objects {
			if o.GetKind() != "ValidatingWebhookConfiguration" {
				continue
			}
			v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, v); err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatal("no validator rendered")
	return nil
}

// The probe goes where the rendered validator's own webhook for the mesh namespace takes
// it (that webhook never fails closed, so the probe never waits on another), labelled with
// the revision it serves.
func TestProbeTargetOfTheRenderedValidator(t *testing.T) {
	mesh := minimalMesh(t)
	ns, objectLabels, ok := probeTarget(renderedValidator(t, mesh))
	if !ok || ns != mesh.Spec.Namespace || len(objectLabels) != 1 || objectLabels["istio.io/rev"] != "default" {
		t.Errorf("probe target %q %v (%v), want namespace %q labelled istio.io/rev=default", ns, objectLabels, ok, mesh.Spec.Namespace)
	}

	revisioned := minimalMesh(t)
	revisioned.Spec.UpdateStrategy.Type = v1alpha1.RevisionBased
	want := strings.ReplaceAll(revisioned.Spec.Version, ".", "-")
	if _, objectLabels, _ := probeTarget(renderedValidator(t, revisioned)); objectLabels["istio.io/rev"] != want {
		t.Errorf("revision %s: probe labelled %v", want, objectLabels)
	}

	byURL := renderedValidator(t, mesh)
	for i := range byURL.Webhooks {
		url := "https://validator.example:443/validate"
		byURL.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url}
	}
	if _, _, ok := probeTarget(byURL); ok {
		t.Error("webhooks called by URL: a probe target was found in a namespace they do not name")
	}
}

func TestProbeVerdict(t *testing.T) {
	hooks := []string{"rev.validation.loom.dev", "rev.root.validation.loom.dev"}
	gateways := schema.GroupResource{Group: "networking.istio.io", Resource: "gateways"}
	for _, tc := range []struct {
		name     string
		err      error
		answered bool
	}{
		{"accepted: the webhook was not called", nil, false},
		{"denied by the validator", apierrors.NewForbidden(gateways, "",
			errors.New(`admission webhook "rev.root.validation.loom.dev" denied the request: Gateway loom-system/loom-validator-probe-*: metadata.annotations[internal.istio.io/webhook-always-reject]: annotation found, rejecting`)), true},
		{"denied by another mesh's webhook", errors.New(`admission webhook "validation.istio.io" denied the request: configuration is invalid`), false},
		{"the webhook cannot be called", apierrors.NewInternalError(errors.New(`Internal error occurred: failed calling webhook "rev.root.validation.loom.dev": failed to call webhook: Post "https://loom-control-plane.loom-system.svc:443/validate?timeout=10s": dial tcp 10.96.0.7:443: connect: connection refused`)), false},
		{"refused by RBAC", apierrors.NewForbidden(gateways, "", errors.New("User cannot create resource")), false},
		{"no Gateway kind", &apimeta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "networking.istio.io", Kind: "Gateway"}}, true},
		{"no Gateway resource", apierrors.NewNotFound(schema.GroupResource{}, ""), false},
		{"a webhook that cannot take a dry run", errors.New(`admission webhook "x.example" does not support dry run`), true},
	} {
		answered, reason := probeVerdict(tc.err, hooks)
		if answered != tc.answered {
			t.Errorf("%s: answered %v (%s), want %v", tc.name, answered, reason, tc.answered)
		}
		if !answered && reason == "" {
			t.Errorf("%s: no reason given", tc.name)
		}
	}
	if _, reason := probeVerdict(errors.New("boom"), hooks); !strings.Contains(reason, "boom") {
		t.Errorf("reason %q does not carry the apiserver's error", reason)
	}
}
