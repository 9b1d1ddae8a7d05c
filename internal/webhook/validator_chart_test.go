package webhook

import (
	"slices"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"loom.dev/loom/pkg/istiocrds"
	"loom.dev/loom/pkg/loomcrds"
	"loom.dev/loom/pkg/render"
	"loom.dev/loom/pkg/validation"
)

// TestChartSendsEveryValidatedKind: every webhook of the control-plane chart's
// ValidatingWebhookConfiguration sends the validator each kind it validates, in every version
// the CRDs serve, and no resource of a group it validates nothing of.
func TestChartSendsEveryValidatedKind(t *testing.T) {
	r, err := render.New()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := r.Render(render.ControlPlane, render.Release{Name: "test", Namespace: "istio-system"}, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	var cfg *admissionregistrationv1.ValidatingWebhookConfiguration
	for _, o := range objs {
		if o.GetKind() == "ValidatingWebhookConfiguration" {
			cfg = &admissionregistrationv1.ValidatingWebhookConfiguration{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, cfg); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cfg == nil || len(cfg.Webhooks) == 0 {
		t.Fatal("the control-plane chart renders no validating webhook")
	}
	loom, err := loomcrds.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	plurals := map[string]string{}
	for _, crd := range append(istiocrds.CRDs(), loom...) {
		plurals[crd.Spec.Group+"/"+crd.Spec.Names.Kind] = crd.Spec.Names.Plural
	}
	validatedGroups := map[string]bool{}
	for _, k := range validation.Kinds() {
		validatedGroups[k.Group] = true
	}
	for _, w := range cfg.Webhooks {
		for _, k := range validation.Kinds() {
			plural := plurals[k.Group+"/"+k.Kind]
			for _, v := range k.Versions {
				if !slices.ContainsFunc(w.Rules, func(rule admissionregistrationv1.RuleWithOperations) bool {
					return covers(rule, k.Group, v, plural)
				}) {
					t.Errorf("webhook %s does not send %s.%s/%s (%s) to the validator", w.Name, k.Kind, k.Group, v, plural)
				}
			}
		}
		for _, rule := range w.Rules {
			for _, g := range rule.APIGroups {
				if !validatedGroups[g] {
					t.Errorf("webhook %s sends group %s, of which nothing is validated", w.Name, g)
				}
			}
		}
	}
}

func covers(rule admissionregistrationv1.RuleWithOperations, group, version, resource string) bool {
	matches := func(list []string, v string) bool { return slices.Contains(list, "*") || slices.Contains(list, v) }
	return matches(rule.APIGroups, group) && matches(rule.APIVersions, version) && matches(rule.Resources, resource) &&
		slices.Contains(rule.Operations, admissionregistrationv1.Create) && slices.Contains(rule.Operations, admissionregistrationv1.Update)
}
