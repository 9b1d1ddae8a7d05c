package values

import (
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// Two meshes in one cluster (any profile, revisions included): no injector of either may
// select the other's control-plane pods, or one mesh's outage keeps the other from starting.
func TestNoInjectorSelectsAControlPlane(t *testing.T) {
	for _, injecting := range profileNames {
		webhooks := mutatingWebhooks(t, sample(t, injecting))
		for _, installed := range profileNames {
			mesh := sample(t, installed)
			mesh.Spec.Namespace = "other-" + installed
			pod := controlPlanePodLabels(t, mesh)
			ns := labels.Set{"kubernetes.io/metadata.name": mesh.Spec.Namespace}
			for _, wh := range webhooks {
				if selects(t, wh.NamespaceSelector, ns) && selects(t, wh.ObjectSelector, pod) {
					t.Errorf("the %s mesh's webhook %s injects the %s mesh's control plane (pod labels %v)", injecting, wh.Name, installed, pod)
				}
			}
		}
	}
}

func mutatingWebhooks(t *testing.T, mesh *operatorv1alpha1.MeshOperator) []admissionregistrationv1.MutatingWebhook {
	t.Helper()
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
	renderedAs(t, mesh, "MutatingWebhookConfiguration", cfg)
	if len(cfg.Webhooks) == 0 {
		t.Fatal("the control plane renders no injector webhooks")
	}
	return cfg.Webhooks
}

func controlPlanePodLabels(t *testing.T, mesh *operatorv1alpha1.MeshOperator) labels.Set {
	t.Helper()
	deploy := &appsv1.Deployment{}
	renderedAs(t, mesh, "Deployment", deploy)
	return deploy.Spec.Template.Labels
}

func renderedAs(t *testing.T, mesh *operatorv1alpha1.MeshOperator, kind string, into any) {
	t.Helper()
	objs, err := renderControlPlane(t, mesh)
	if err != nil {
		t.Fatal(err)
	}
	obj := find(objs, kind)
	if obj == nil {
		t.Fatalf("the control plane renders no %s", kind)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, into); err != nil {
		t.Fatal(err)
	}
}

func selects(t *testing.T, selector *metav1.LabelSelector, set labels.Set) bool {
	t.Helper()
	if selector == nil {
		return true
	}
	s, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		t.Fatal(err)
	}
	return s.Matches(set)
}
