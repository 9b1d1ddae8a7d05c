// Package controllers holds the operator's reconcilers, one per kind.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/apply"
	"loom.dev/loom/pkg/istiocrds"
	"loom.dev/loom/pkg/render"
)

// Finalizer holds a MeshOperator until everything it installed is removed.
const Finalizer = "operator.loom.dev/uninstall"

// MeshOperatorReconciler installs, updates and uninstalls the mesh a MeshOperator describes.
type MeshOperatorReconciler struct {
	client.Client
	Renderer *render.Renderer
	Applier  *apply.Applier
	// APIReader reads what must not come from the cache (the operator's state); the
	// client is used when nil.
	APIReader client.Reader
	// IstioCRDs are installed before every mesh's control plane.
	IstioCRDs []*unstructured.Unstructured
	// Recorder, when set, receives an Event for every condition change.
	Recorder recorder.EventRecorder
	// Clock tells the time of attempts, rollbacks and retirements; the real clock when nil.
	Clock clock.PassiveClock
	// ImageRegistry qualifies the Loom images the operator renders (control plane, gateway
	// agents, injected proxies); empty keeps their unqualified names.
	ImageRegistry string

	// plans caches each mesh's last render (mesh name -> cachedPlan).
	plans sync.Map
	// verdicts remembers readiness per applied object and resourceVersion.
	verdicts verdicts
	// monitors applies the Prometheus Operator's objects.
	monitors monitorsSupport
	// unanswered remembers validators whose webhook did not answer the last probe.
	unanswered unansweredProbes
}

// +kubebuilder:rbac:groups=operator.loom.dev,resources=meshoperators,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=operator.loom.dev,resources=meshoperators/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=operator.loom.dev,resources=meshoperators/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces;serviceaccounts;configmaps;secrets;services;persistentvolumeclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods;endpoints;nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles;clusterrolebindings;roles;rolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.istio.io;security.istio.io;telemetry.istio.io,resources=*,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.istio.io;security.istio.io;telemetry.istio.io,resources=*/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=policy.loom.dev,resources=ratelimitpolicies;ratelimitpolicies/status,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificaterequests,verbs=create;get;list;watch;delete
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update

// Reconcile drives the mesh toward its spec, one step per call, and records the truth in status.
func (r *MeshOperatorReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	ctx, span := startReconcile(ctx, "MeshOperator", req)
	defer func() { endReconcile(span, res, err) }()
	mesh := &operatorv1alpha1.MeshOperator{}
	if err := r.Get(ctx, req.NamespacedName, mesh); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !mesh.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.uninstall(ctx, mesh)
	}

	status := newStatus(mesh)
	owner, err := r.namespaceOwner(ctx, mesh)
	if err != nil {
		return ctrl.Result{}, err
	}
	if owner != mesh.Name {
		status.failed(operatorv1alpha1.ReasonNamespaceConflict,
			fmt.Sprintf("namespace %s is already owned by MeshOperator %s; only one MeshOperator may own a namespace", mesh.Spec.Namespace, owner))
		return ctrl.Result{}, r.writeStatus(ctx, mesh, status)
	}
	if before := mesh.DeepCopy(); controllerutil.AddFinalizer(mesh, Finalizer) {
		// The patch triggers the next reconcile.
		return ctrl.Result{}, r.patchFinalizers(ctx, before, mesh)
	}
	// A cache that has not yet seen the deletion would install the mesh again after its
	// uninstall released it, and nothing would ever remove what that install created. The
	// cache's own event for the deletion brings the next reconcile.
	if gone, err := r.deletedMeanwhile(ctx, mesh); gone || err != nil {
		return ctrl.Result{}, err
	}

	mem, err := r.loadMemory(ctx, mesh)
	if err != nil {
		return ctrl.Result{}, err
	}
	// After a rollback the last good spec keeps serving until the spec changes again.
	rolledBack := mem.state.rolledBackAt(mesh.Generation)
	target := mesh
	if rolledBack {
		target = mesh.DeepCopy()
		target.Spec = mem.state.LastGood.Spec
		status.spec = &target.Spec
		status.rollbackMsg = mem.state.RolledBack.Message
	}
	components, err := r.plan(target)
	if err != nil {
		var invalid *render.InvalidValuesError
		if errors.As(err, &invalid) {
			status.failed(operatorv1alpha1.ReasonInvalidValues, err.Error())
			return ctrl.Result{}, r.writeStatus(ctx, mesh, status)
		}
		return ctrl.Result{}, err
	}
	for _, ns := range namespacesOf(components) {
		ready, err := r.ensureNamespace(ctx, mesh.Name, ns)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !ready {
			status.waiting(fmt.Sprintf("waiting for namespace %s to finish terminating", ns))
			return ctrl.Result{RequeueAfter: namespaceRetry}, r.writeStatus(ctx, mesh, status)
		}
	}
	// Remember the attempt and the revisions to keep before touching what runs.
	prepared := prepare(mem, mesh.Generation, &mesh.Spec, &target.Spec, rolledBack, r.clock().Now())
	if err := r.remember(ctx, mesh, mem, prepared, nil); err != nil {
		return ctrl.Result{}, err
	}
	mem = prepared

	if components, err = r.withRetainedRevisions(target, components, mem); err != nil {
		return ctrl.Result{}, err
	}
	components, probeRetry, err := r.withValidatorsFailingOpen(ctx, mesh, components)
	if err != nil {
		return ctrl.Result{}, err
	}
	allReady, err := r.rollout(ctx, mesh.Name, components, status)
	if err != nil {
		return ctrl.Result{}, errors.Join(err, r.writeStatus(ctx, mesh, status))
	}
	status.summarize(len(components))
	obs := observation{generation: mesh.Generation, spec: &mesh.Spec, rolledBack: rolledBack, allReady: allReady, waiting: status.firstUnready()}
	if allReady {
		if obs.usage, err = r.observeUsage(ctx, slices.Sorted(maps.Keys(mem.revisions))); err != nil {
			return ctrl.Result{}, err
		}
	}
	out := decide(mem, obs, r.clock().Now())
	if out.prune {
		// Components no longer planned (a removed gateway or add-on, a retired revision, what
		// only a failed generation had) go once the rest is Ready.
		if err := r.pruneRemovedComponents(ctx, mesh.Name, components); err != nil {
			return ctrl.Result{}, err
		}
	}
	// Remember a rollback before reporting it, so that no later reconcile applies the
	// failed generation again.
	if err := r.remember(ctx, mesh, mem, out.memory, status.status.Components); err != nil {
		return ctrl.Result{}, err
	}
	switch {
	case out.rollBack != "":
		status.rollBack(out.rollBack)
		log.FromContext(ctx).Info("upgrade failed; rolling back", "generation", mesh.Generation, "to", mem.state.LastGood.Generation)
		recordRollback(mesh.Name)
	case rolledBack:
		status.keepRolledBack()
	case out.unhealthy != "":
		status.unhealthy(out.unhealthy)
	}
	if len(out.retired) > 0 {
		log.FromContext(ctx).Info("retired revisions unused for the grace period", "revisions", out.retired)
	}
	status.revisions(out.memory, &target.Spec)
	requeue := out.requeueAfter
	if probeRetry > 0 {
		requeue = minPositive(requeue, probeRetry)
	}
	return ctrl.Result{RequeueAfter: requeue}, r.writeStatus(ctx, mesh, status)
}

// deletedMeanwhile reports whether the apiserver holds the MeshOperator as gone or being
// deleted while the cached copy says otherwise.
func (r *MeshOperatorReconciler) deletedMeanwhile(ctx context.Context, mesh *operatorv1alpha1.MeshOperator) (bool, error) {
	live := &operatorv1alpha1.MeshOperator{}
	if err := r.uncached().Get(ctx, client.ObjectKeyFromObject(mesh), live); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}
	return live.UID != mesh.UID || !live.DeletionTimestamp.IsZero(), nil
}

// remember stores what changed from before to next: the rollback state in the state
// ConfigMap, the revisions as MeshRevisions (their Ready condition from components, when given).
func (r *MeshOperatorReconciler) remember(ctx context.Context, mesh *operatorv1alpha1.MeshOperator, before, next memory, components []operatorv1alpha1.ComponentStatus) error {
	if next.stateChanged(before) {
		if err := r.saveState(ctx, mesh, &next.state); err != nil {
			return err
		}
	}
	if components == nil && !next.revisionsChanged(before) {
		return nil
	}
	return r.syncRevisions(ctx, mesh, next.revisions, components)
}

// clock is the reconciler's Clock, or the real one.
func (r *MeshOperatorReconciler) clock() clock.PassiveClock {
	if r.Clock != nil {
		return r.Clock
	}
	return clock.RealClock{}
}

// rollout installs the components in order and stops at the first that is not Ready yet:
// later components wait for it.
func (r *MeshOperatorReconciler) rollout(ctx context.Context, mesh string, components []component, status *statusBuilder) (bool, error) {
	for _, c := range components {
		if err := r.install(ctx, mesh, c); err != nil {
			status.failed(operatorv1alpha1.ReasonApplyFailed, err.Error())
			return false, err
		}
		cs, err := r.readiness(ctx, mesh, c)
		if err != nil {
			return false, err
		}
		status.component(cs)
		if !cs.Ready {
			return false, nil
		}
	}
	return true, nil
}

// namespaceOwner returns the MeshOperator that owns the mesh's namespace: the oldest one
// that names it, ties broken by name.
func (r *MeshOperatorReconciler) namespaceOwner(ctx context.Context, mesh *operatorv1alpha1.MeshOperator) (string, error) {
	list := &operatorv1alpha1.MeshOperatorList{}
	if err := r.List(ctx, list); err != nil {
		return "", err
	}
	owner := mesh
	for i := range list.Items {
		m := &list.Items[i]
		if m.Spec.Namespace != mesh.Spec.Namespace || !m.DeletionTimestamp.IsZero() && m.Name != mesh.Name {
			continue
		}
		if older(m, owner) {
			owner = m
		}
	}
	return owner.Name, nil
}

func older(a, b *operatorv1alpha1.MeshOperator) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// namespaceRetry paces the wait for a terminating namespace.
const namespaceRetry = 2 * time.Second

// ensureNamespace creates the mesh namespace when missing, marked so that uninstall may
// remove it; a namespace the user made is left as it is. It reports false while the
// namespace is still terminating.
func (r *MeshOperatorReconciler) ensureNamespace(ctx context.Context, mesh, name string) (bool, error) {
	ns := &corev1.Namespace{}
	err := r.Get(ctx, client.ObjectKey{Name: name}, ns)
	switch {
	case err == nil:
		return ns.DeletionTimestamp.IsZero(), nil
	case !apierrors.IsNotFound(err):
		return false, err
	}
	ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   name,
		Labels: map[string]string{LabelCreatedBy: mesh},
	}}
	if err := r.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return false, err
	}
	log.FromContext(ctx).Info("created namespace", "namespace", ns.Name)
	return true, nil
}

// uninstall removes everything the mesh installed, newest kinds first, then the namespaces
// the operator created for it that no other MeshOperator names, and then releases the
// MeshOperator.
func (r *MeshOperatorReconciler) uninstall(ctx context.Context, mesh *operatorv1alpha1.MeshOperator) error {
	if !controllerutil.ContainsFinalizer(mesh, Finalizer) {
		return nil
	}
	kinds := slices.Clone(managedKinds)
	slices.Reverse(kinds)
	deleted, err := r.Applier.PruneListedBy(ctx, r.uncached(), ownedBy(mesh.Name, ""), kinds, nil)
	if err != nil {
		return err
	}
	monitors, err := r.pruneMonitors(ctx, ownedBy(mesh.Name, ""))
	if err != nil {
		return err
	}
	deleted = append(deleted, monitors...)
	if len(deleted) > 0 {
		log.FromContext(ctx).Info("uninstalled", "objects", deleted)
	}
	if err := r.deleteRevisions(ctx, mesh); err != nil {
		return err
	}
	if err := r.removeNamespaces(ctx, mesh); err != nil {
		return err
	}
	if mesh.Annotations[operatorv1alpha1.RemoveIstioCRDsAnnotation] == "true" {
		if err := r.removeIstioCRDs(ctx, mesh); err != nil {
			return err
		}
	}
	forgetComponents(mesh.Name)
	r.plans.Delete(mesh.Name)
	r.verdicts.forget(mesh.Name)
	before := mesh.DeepCopy()
	controllerutil.RemoveFinalizer(mesh, Finalizer)
	// A reconcile woken by the removal of its own objects may find the MeshOperator gone
	// already, released by the one before it.
	return client.IgnoreNotFound(r.patchFinalizers(ctx, before, mesh))
}

// patchFinalizers writes only the finalizers: an update of the whole object would take
// ownership of spec fields the user (or a GitOps tool's server-side apply) owns, and write
// the empty structs Go serializes into a spec that left them out.
func (r *MeshOperatorReconciler) patchFinalizers(ctx context.Context, before, after *operatorv1alpha1.MeshOperator) error {
	return r.Patch(ctx, after, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

func (r *MeshOperatorReconciler) removeNamespaces(ctx context.Context, mesh *operatorv1alpha1.MeshOperator) error {
	// From the apiserver: a cache that has not yet seen the namespace the first install
	// created a moment ago would leave it behind.
	created := &corev1.NamespaceList{}
	if err := r.uncached().List(ctx, created, client.MatchingLabels{LabelCreatedBy: mesh.Name}); err != nil {
		return err
	}
	meshes := &operatorv1alpha1.MeshOperatorList{}
	if err := r.List(ctx, meshes); err != nil {
		return err
	}
	namedByOthers := map[string]bool{}
	for _, m := range meshes.Items {
		if m.Name != mesh.Name && m.DeletionTimestamp.IsZero() {
			namedByOthers[m.Spec.Namespace] = true // the next owner takes the namespace over
		}
	}
	for i := range created.Items {
		ns := &created.Items[i]
		if namedByOthers[ns.Name] || !ns.DeletionTimestamp.IsZero() {
			continue
		}
		if err := r.Delete(ctx, ns); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

// namespacesOf lists the distinct namespaces the components run in, in order; cluster-scoped
// components have none.
func namespacesOf(components []component) []string {
	var names []string
	for _, c := range components {
		if c.namespace != "" && !slices.Contains(names, c.namespace) {
			names = append(names, c.namespace)
		}
	}
	return names
}

// removeIstioCRDs deletes the Istio CRDs Loom installed, unless another mesh still uses them.
func (r *MeshOperatorReconciler) removeIstioCRDs(ctx context.Context, mesh *operatorv1alpha1.MeshOperator) error {
	meshes := &operatorv1alpha1.MeshOperatorList{}
	if err := r.List(ctx, meshes); err != nil {
		return err
	}
	for _, m := range meshes.Items {
		if m.Name != mesh.Name {
			log.FromContext(ctx).Info("keeping the Istio CRDs: another MeshOperator uses them", "other", m.Name)
			return nil
		}
	}
	for _, crd := range r.IstioCRDs {
		live := &metav1.PartialObjectMetadata{}
		live.SetGroupVersionKind(crd.GroupVersionKind())
		if err := r.Get(ctx, client.ObjectKeyFromObject(crd), live); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return err
		}
		if live.Labels[istiocrds.Label] != "true" {
			continue
		}
		if err := r.Delete(ctx, live); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

// pruneRemovedComponents deletes what the mesh installed for components no longer planned.
func (r *MeshOperatorReconciler) pruneRemovedComponents(ctx context.Context, mesh string, components []component) error {
	keep := []string{stateComponent}
	for _, c := range components {
		keep = append(keep, c.name)
	}
	selector, err := notComponents(mesh, keep)
	if err != nil {
		return err
	}
	deleted, err := r.Applier.Prune(ctx, selector, managedKinds, nil)
	monitors, monitorsErr := r.pruneMonitors(ctx, selector)
	deleted, err = append(deleted, monitors...), errors.Join(err, monitorsErr)
	if len(deleted) > 0 {
		log.FromContext(ctx).Info("removed components no longer in the spec", "objects", deleted)
	}
	return err
}
