package integration

import (
	"context"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/controllers"
)

// As istiod's, a control plane's validator is created failing open (Ignore) and fails closed
// only once its control plane is Ready, the CA bundle it publishes is in place and its webhook
// has denied a dry-run object it must deny: a mesh being installed, or one whose webhook the
// apiserver cannot reach, does not refuse every Istio object in the cluster. That it then
// fails closed is shown where a control plane really serves (test/e2e, checkValidatorFailsClosed).
func TestValidatorFailsOpenUntilItServes(t *testing.T) {
	const name = "fail-open"
	validatorName := "loom-control-plane-" + name + "-validator"
	watcher, err := client.NewWithWatch(cluster.Config, client.Options{Scheme: k8sClient.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := watcher.Watch(t.Context(), &admissionregistrationv1.ValidatingWebhookConfigurationList{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Runs after the mesh's own cleanup: the next test starts only once the apiserver no
	// longer has the validator.
	t.Cleanup(func() { waitValidatorGone(t, validatorName) })
	createMesh(t, newMesh(name))

	first := firstCreated(t, w, validatorName)
	for _, hook := range first.Webhooks {
		if *hook.FailurePolicy != admissionregistrationv1.Ignore {
			t.Errorf("validator created with webhook %s failing %s, want Ignore until the control plane serves", hook.Name, *hook.FailurePolicy)
		}
	}

	waitCondition(t, name, operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	// Ready, but no control plane published its CA here: the apiserver cannot call the webhook.
	time.Sleep(2 * time.Second)
	if closed := failingClosed(t, validatorName); len(closed) > 0 {
		t.Errorf("webhooks %v fail closed before the apiserver can call them", closed)
	}

	// With its CA bundle in place too, the validator still fails open: as istiod, the operator
	// first has the apiserver dry-run an object the validator must deny, and no control plane
	// answers here.
	root := newRootPEM(t)
	publishCARoot(t, name, root)
	waitValidatorCABundle(t, validatorName, root)
	waitEvent(t, name, controllers.ReasonValidatorNotAnswering, corev1.EventTypeWarning)
	if closed := failingClosed(t, validatorName); len(closed) > 0 {
		t.Errorf("webhooks %v fail closed though the apiserver never got an answer from them", closed)
	}
}

// firstCreated returns the named configuration as the watch first saw it added.
func firstCreated(t *testing.T, w watch.Interface, name string) *admissionregistrationv1.ValidatingWebhookConfiguration {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch of validating webhook configurations ended")
			}
			if cfg, isCfg := ev.Object.(*admissionregistrationv1.ValidatingWebhookConfiguration); isCfg && ev.Type == watch.Added && cfg.Name == name {
				return cfg
			}
		case <-timeout:
			t.Fatalf("ValidatingWebhookConfiguration %s was never created", name)
		}
	}
}

// failingClosed names the webhooks of the configuration with failurePolicy Fail.
func failingClosed(t *testing.T, name string) []string {
	t.Helper()
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: name}, cfg); err != nil {
		t.Fatal(err)
	}
	var closed []string
	for _, hook := range cfg.Webhooks {
		if hook.FailurePolicy != nil && *hook.FailurePolicy == admissionregistrationv1.Fail {
			closed = append(closed, hook.Name)
		}
	}
	return closed
}

func waitValidatorGone(t *testing.T, name string) {
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, &admissionregistrationv1.ValidatingWebhookConfiguration{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("ValidatingWebhookConfiguration %s stays after its mesh was deleted", name)
	}
	time.Sleep(2 * time.Second) // the apiserver's own copy of the webhooks follows by a watch
}
