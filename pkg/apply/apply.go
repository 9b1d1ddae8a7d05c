// Package apply puts rendered objects into a cluster with server-side apply under one field
// manager, prunes the objects a render no longer contains, and judges workload readiness.
package apply

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldManager owns every field the operator sets.
const FieldManager = "loom-operator"

// Applier applies and prunes objects. Its client should read from a cache that holds the
// metadata of the objects it manages: reads are then free.
type Applier struct {
	Client client.Client

	mu sync.Mutex
	// applied remembers, per object, what was last applied and the resourceVersion that
	// resulted, so that an unchanged object is not patched again.
	applied map[string]appliedRecord
}

type appliedRecord struct {
	hash            [sha256.Size]byte
	resourceVersion string
	generation      int64
}

// Apply server-side applies each object in order. It takes ownership of the fields it sets,
// which repairs drift in them, and leaves fields set by other managers alone. An object is
// skipped when its render and its live resourceVersion are what the last apply left: any
// change by anyone bumps the resourceVersion. An object that carries a resourceVersion is
// applied only if the live object still has it (else a Conflict error): the caller decided on
// that version.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		obj = obj.DeepCopy()
		obj.SetManagedFields(nil)
		precondition := obj.GetResourceVersion()
		obj.SetResourceVersion("")
		key := identity(obj)
		data, err := obj.MarshalJSON()
		if err != nil {
			return fmt.Errorf("encoding %s: %w", Describe(obj), err)
		}
		hash := sha256.Sum256(data)
		if a.unchanged(ctx, key, hash, obj) {
			continue
		}
		obj.SetResourceVersion(precondition)
		if err := a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s: %w", Describe(obj), err)
		}
		// The apply response was decoded into obj.
		a.remember(key, appliedRecord{hash: hash, resourceVersion: obj.GetResourceVersion(), generation: obj.GetGeneration()})
	}
	return nil
}

func (a *Applier) unchanged(ctx context.Context, key string, hash [sha256.Size]byte, obj *unstructured.Unstructured) bool {
	a.mu.Lock()
	rec, ok := a.applied[key]
	a.mu.Unlock()
	if !ok || rec.hash != hash || rec.resourceVersion == "" {
		return false
	}
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(obj.GroupVersionKind())
	if err := a.Client.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
		return false
	}
	return live.ResourceVersion == rec.resourceVersion
}

func (a *Applier) remember(key string, rec appliedRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.applied == nil {
		a.applied = map[string]appliedRecord{}
	}
	a.applied[key] = rec
}

// AppliedGeneration is the generation the object had after this Applier last applied it, or
// 0 when unknown. A cached copy older than that must not be judged: it predates the change.
func (a *Applier) AppliedGeneration(obj client.Object) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applied[identity(obj)].generation
}

func (a *Applier) forget(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.applied, key)
}

func identity(obj client.Object) string {
	return obj.GetObjectKind().GroupVersionKind().GroupKind().String() + " " + obj.GetNamespace() + "/" + obj.GetName()
}

// Prune deletes the objects of the given kinds that match selector and are not in keep.
// It returns what it deleted, described as kind namespace/name.
func (a *Applier) Prune(ctx context.Context, selector labels.Selector, kinds []schema.GroupVersionKind, keep []*unstructured.Unstructured) ([]string, error) {
	return a.PruneListedBy(ctx, a.Client, selector, kinds, keep)
}

// PruneListedBy prunes as Prune does, finding the objects through lister. An uninstall
// lists from the apiserver itself: a cache that has not seen an object applied a moment
// ago would leave it behind for good.
func (a *Applier) PruneListedBy(ctx context.Context, lister client.Reader, selector labels.Selector, kinds []schema.GroupVersionKind, keep []*unstructured.Unstructured) ([]string, error) {
	wanted := map[string]bool{}
	for _, obj := range keep {
		wanted[identity(obj)] = true
	}
	var deleted []string
	var errs []error
	for _, gvk := range kinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := lister.List(ctx, list, client.MatchingLabelsSelector{Selector: selector}); err != nil {
			if meta.IsNoMatchError(err) {
				continue
			}
			errs = append(errs, fmt.Errorf("listing %s: %w", gvk.Kind, err))
			continue
		}
		for i := range list.Items {
			obj := &list.Items[i]
			obj.SetGroupVersionKind(gvk)
			if wanted[identity(obj)] || obj.GetDeletionTimestamp() != nil {
				continue
			}
			a.forget(identity(obj))
			err := a.Client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("pruning %s: %w", Describe(obj), err))
				continue
			}
			deleted = append(deleted, Describe(obj))
		}
	}
	sort.Strings(deleted)
	return deleted, errors.Join(errs...)
}

// Describe names an object as Kind namespace/name, or Kind name when cluster-scoped.
func Describe(obj client.Object) string {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if obj.GetNamespace() == "" {
		return kind + " " + obj.GetName()
	}
	return kind + " " + obj.GetNamespace() + "/" + obj.GetName()
}

// KindsOf lists the distinct kinds among objects, in first-seen order.
func KindsOf(objs []*unstructured.Unstructured) []schema.GroupVersionKind {
	seen := map[schema.GroupVersionKind]bool{}
	var kinds []schema.GroupVersionKind
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		if !seen[gvk] {
			seen[gvk] = true
			kinds = append(kinds, gvk)
		}
	}
	return kinds
}
