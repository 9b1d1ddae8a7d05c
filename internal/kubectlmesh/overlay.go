package kubectlmesh

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// overlayReader reads base with objects laid over it: an object of the same kind, namespace
// and name replaces base's (or an earlier object's), the others are added. A kind base does not serve (its CRD is not
// installed) reads as an empty list, so a cluster without Istio's CRDs is a cluster without
// Istio config.
type overlayReader struct {
	base    client.Reader
	scheme  *runtime.Scheme
	objects []*unstructured.Unstructured
}

func (r *overlayReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return r.base.Get(ctx, key, obj, opts...)
}

func (r *overlayReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	gvk, err := apiutil.GVKForObject(list, r.scheme)
	if err != nil {
		return err
	}
	if err := r.base.List(ctx, list, opts...); err != nil {
		if !meta.IsNoMatchError(err) && !strings.Contains(err.Error(), "no matches for kind") {
			return err
		}
		if err := meta.SetList(list, nil); err != nil {
			return err
		}
	}
	itemKind := strings.TrimSuffix(gvk.Kind, "List")
	var lo client.ListOptions
	lo.ApplyOptions(opts)
	var extra []*unstructured.Unstructured
	for _, o := range r.objects {
		og := o.GroupVersionKind()
		if og.Group == gvk.Group && og.Kind == itemKind && (lo.Namespace == "" || lo.Namespace == o.GetNamespace()) {
			extra = append(extra, o)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	at := map[string]int{}
	for i, item := range items {
		if m, err := meta.Accessor(item); err == nil {
			at[m.GetNamespace()+"/"+m.GetName()] = i
		}
	}
	_, unstructuredList := list.(*unstructured.UnstructuredList)
	for _, o := range extra {
		var item runtime.Object = o.DeepCopy()
		if !unstructuredList {
			typed, err := r.scheme.New(gvk.GroupVersion().WithKind(itemKind))
			if err != nil {
				return fmt.Errorf("%s: %w", describe(o), err)
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, typed); err != nil {
				return fmt.Errorf("%s: %w", describe(o), err)
			}
			item = typed
		}
		key := o.GetNamespace() + "/" + o.GetName()
		if i, ok := at[key]; ok {
			items[i] = item
		} else {
			at[key] = len(items)
			items = append(items, item)
		}
	}
	return meta.SetList(list, items)
}
