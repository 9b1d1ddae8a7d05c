package controllers

import (
	"bytes"
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	admissionregistrationv1ac "k8s.io/client-go/applyconfigurations/admissionregistration/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// WebhookCABundleFieldManager owns the caBundle of the mesh's webhook configurations and
// nothing else, so whoever applies the rest (this operator, or a GitOps tool applying a
// rendered chart) neither removes it nor sees it as drift.
const WebhookCABundleFieldManager = "loom-operator-ca-bundle"

// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations;validatingwebhookconfigurations,verbs=get;list;watch;create;update;patch;delete

// WebhookCABundleReconciler writes the mesh's trust bundle, as the control plane publishes
// it, into the caBundle of every webhook of the mesh's webhook configurations: the webhooks
// are served with a certificate of the mesh CA.
type WebhookCABundleReconciler struct {
	client.Client
	// States reads the CA state ConfigMaps; SetupWithManager sets it to a cache of those alone.
	States client.Reader
}

// Reconcile applies one mesh's caBundle where it differs.
func (r *WebhookCABundleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	ctx, span := startReconcile(ctx, "WebhookCABundle", req)
	defer func() { endReconcile(span, res, err) }()
	mesh := &operatorv1alpha1.MeshOperator{}
	if err := r.Get(ctx, req.NamespacedName, mesh); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !mesh.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	states := r.States
	if states == nil {
		states = r.Client
	}
	data, err := observeCA(ctx, states, mesh.Spec.Namespace)
	if err != nil || data[operatorv1alpha1.CAStateKeyRoots] == "" {
		return ctrl.Result{}, err // nothing to write until the control plane publishes its roots
	}
	bundle := []byte(data[operatorv1alpha1.CAStateKeyRoots])
	own := client.MatchingLabels{LabelMesh: mesh.Name}
	mutating := &admissionregistrationv1.MutatingWebhookConfigurationList{}
	if err := r.List(ctx, mutating, own); err != nil {
		return ctrl.Result{}, err
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := r.List(ctx, validating, own); err != nil {
		return ctrl.Result{}, err
	}
	var patches []runtime.ApplyConfiguration
	for i := range mutating.Items {
		if p := mutatingCABundlePatch(&mutating.Items[i], bundle); p != nil {
			patches = append(patches, p)
		}
	}
	for i := range validating.Items {
		if p := validatingCABundlePatch(&validating.Items[i], bundle); p != nil {
			patches = append(patches, p)
		}
	}
	for _, p := range patches {
		if err := r.Apply(ctx, p, client.FieldOwner(WebhookCABundleFieldManager), client.ForceOwnership); err != nil {
			return ctrl.Result{}, fmt.Errorf("caBundle of the webhook configurations of mesh %s: %w", mesh.Name, err)
		}
	}
	return ctrl.Result{}, nil
}

// mutatingCABundlePatch is the apply configuration that sets bundle as the caBundle of every
// webhook of cfg, or nil when every one has it already.
func mutatingCABundlePatch(cfg *admissionregistrationv1.MutatingWebhookConfiguration, bundle []byte) runtime.ApplyConfiguration {
	current := true
	patch := admissionregistrationv1ac.MutatingWebhookConfiguration(cfg.Name)
	for _, w := range cfg.Webhooks {
		current = current && bytes.Equal(w.ClientConfig.CABundle, bundle)
		patch.WithWebhooks(admissionregistrationv1ac.MutatingWebhook().WithName(w.Name).
			WithClientConfig(admissionregistrationv1ac.WebhookClientConfig().WithCABundle(bundle...)))
	}
	if current {
		return nil
	}
	return patch
}

// validatingCABundlePatch is mutatingCABundlePatch for a validating configuration.
func validatingCABundlePatch(cfg *admissionregistrationv1.ValidatingWebhookConfiguration, bundle []byte) runtime.ApplyConfiguration {
	current := true
	patch := admissionregistrationv1ac.ValidatingWebhookConfiguration(cfg.Name)
	for _, w := range cfg.Webhooks {
		current = current && bytes.Equal(w.ClientConfig.CABundle, bundle)
		patch.WithWebhooks(admissionregistrationv1ac.ValidatingWebhook().WithName(w.Name).
			WithClientConfig(admissionregistrationv1ac.WebhookClientConfig().WithCABundle(bundle...)))
	}
	if current {
		return nil
	}
	return patch
}

// SetupWithManager wakes a mesh when its CA state ConfigMap or one of its webhook
// configurations changes (a configuration re-created without caBundle gets it back).
func (r *WebhookCABundleReconciler) SetupWithManager(mgr ctrl.Manager) error {
	states, err := newCAStateCache(mgr)
	if err != nil {
		return err
	}
	r.States = states
	namespaceMeshes := meshesOfNamespace(r.Client)
	return ctrl.NewControllerManagedBy(mgr).For(&operatorv1alpha1.MeshOperator{}).Named("meshoperator-webhook-ca").
		WatchesRawSource(source.Kind(states, client.Object(&corev1.ConfigMap{}), handler.EnqueueRequestsFromMapFunc(namespaceMeshes))).
		Watches(&admissionregistrationv1.MutatingWebhookConfiguration{}, handler.EnqueueRequestsFromMapFunc(meshOfObject)).
		Watches(&admissionregistrationv1.ValidatingWebhookConfiguration{}, handler.EnqueueRequestsFromMapFunc(meshOfObject)).
		Complete(r)
}
