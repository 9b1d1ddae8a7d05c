package controllers

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func webhookConfig(kind string, names ...string) *unstructured.Unstructured {
	hooks := make([]any, 0, len(names))
	for _, n := range names {
		hooks = append(hooks, map[string]any{"name": n})
	}
	return &unstructured.Unstructured{Object: map[string]any{"kind": kind, "metadata": map[string]any{"name": kind}, "webhooks": hooks}}
}

func webhookNames(obj *unstructured.Unstructured) []string {
	hooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
	var out []string
	for _, h := range hooks {
		out = append(out, h.(map[string]any)["name"].(string))
	}
	return out
}

// A retained revision keeps only the webhooks of objects that name it (istio.io/rev); the
// rendered plan it came from is not modified.
func TestRetainedRevisionServesOnlyWhatNamesIt(t *testing.T) {
	mutating := webhookConfig("MutatingWebhookConfiguration", "rev.namespace.sidecar-injector.loom.dev", "rev.object.sidecar-injector.loom.dev",
		"namespace.sidecar-injector.loom.dev", "object.sidecar-injector.loom.dev")
	validating := webhookConfig("ValidatingWebhookConfiguration", "rev.validation.loom.dev", "rev.root.validation.loom.dev", "validation.loom.dev", "root.validation.loom.dev")
	deployment := &unstructured.Unstructured{Object: map[string]any{"kind": "Deployment"}}
	c := withoutDefaultInjection(component{objects: []*unstructured.Unstructured{mutating, validating, deployment}})

	if got := webhookNames(c.objects[0]); !slices.Equal(got, []string{"rev.namespace.sidecar-injector.loom.dev", "rev.object.sidecar-injector.loom.dev"}) {
		t.Errorf("injector webhooks %v", got)
	}
	if got := webhookNames(c.objects[1]); !slices.Equal(got, []string{"rev.validation.loom.dev", "rev.root.validation.loom.dev"}) {
		t.Errorf("validator webhooks %v", got)
	}
	if c.objects[2] != deployment {
		t.Error("other objects must pass unchanged")
	}
	if len(webhookNames(mutating)) != 4 || len(webhookNames(validating)) != 4 {
		t.Error("the cached render was modified")
	}
}
