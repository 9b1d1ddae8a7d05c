package discovery

import (
	"context"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/model"
)

// istioInputs knows which Istio kinds are watched (their CRD is served and
// their informer has synced) and keeps each object's decoding until the
// object changes, so a rebuild decodes only what changed.
type istioInputs struct {
	kinds []istioKind

	mu      sync.Mutex
	claimed map[string]bool // CRD name -> its informer is (being) started
	active  map[string]bool // CRD name -> watched and synced
	decoded map[types.UID]decodedObject
}

type decodedObject struct {
	name            string // "VirtualService ns/name"
	resourceVersion string
	obj             runtime.Object
	problem         *model.Problem
}

func newIstioInputs(kinds []istioKind) *istioInputs {
	return &istioInputs{kinds: kinds, claimed: map[string]bool{}, active: map[string]bool{}, decoded: map[types.UID]decodedObject{}}
}

// claim reports whether the caller is the one to start the kind's informer.
func (w *istioInputs) claim(k istioKind) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.claimed[k.crd] {
		return false
	}
	w.claimed[k.crd] = true
	return true
}

// release lets a later attempt start the kind's informer.
func (w *istioInputs) release(k istioKind) {
	w.mu.Lock()
	delete(w.claimed, k.crd)
	w.mu.Unlock()
}

func (w *istioInputs) isActive(k istioKind) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.active[k.crd]
}

// activate adds the kind's objects to the model from now on.
func (w *istioInputs) activate(k istioKind) {
	w.mu.Lock()
	w.active[k.crd] = true
	w.mu.Unlock()
}

func (w *istioInputs) activeKinds() []istioKind {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []istioKind
	for _, k := range w.kinds {
		if w.active[k.crd] {
			out = append(out, k)
		}
	}
	return out
}

// kindNamed is the kind called name ("VirtualService"), if discovery knows it.
func (w *istioInputs) kindNamed(name string) (istioKind, bool) {
	for _, k := range w.kinds {
		if k.gvk.Kind == name {
			return k, true
		}
	}
	return istioKind{}, false
}

// decode returns the typed form of u, or the problem that keeps it out of
// the model; seen collects the objects still present, to forget the others.
func (w *istioInputs) decode(k istioKind, u *unstructured.Unstructured, seen map[types.UID]decodedObject) (runtime.Object, *model.Problem) {
	w.mu.Lock()
	d, ok := w.decoded[u.GetUID()]
	w.mu.Unlock()
	if !ok || d.resourceVersion != u.GetResourceVersion() {
		d = decodedObject{name: k.gvk.Kind + " " + u.GetNamespace() + "/" + u.GetName(), resourceVersion: u.GetResourceVersion()}
		obj := k.typed()
		decode := decodeIstio
		if k.decode != nil {
			decode = k.decode
		}
		if field, err := decode(u.Object, obj); err != nil {
			d.problem = &model.Problem{Kind: k.gvk.Kind, Meta: meta(u), Field: field,
				Message: fmt.Sprintf("cannot be decoded, the object is skipped: %v", err)}
		} else {
			d.obj = obj
		}
	}
	seen[u.GetUID()] = d
	return d.obj, d.problem
}

func (w *istioInputs) keepOnly(seen map[types.UID]decodedObject) {
	w.mu.Lock()
	w.decoded = seen
	w.mu.Unlock()
}

// inputReader is the cache as readInputs reads it, with the Istio kinds
// being watched and the fetcher of JWT keys (nil: every jwksUri fails
// closed).
type inputReader struct {
	client.Reader
	istio *istioInputs
	jwks  *jwksFetcher
}

// readIstio adds the watched Istio objects to in. An object that cannot be
// decoded, or whose kind Loom does not enforce, becomes a problem.
func readIstio(ctx context.Context, r client.Reader, in *model.Input) ([]model.Problem, error) {
	ir, ok := r.(*inputReader)
	if !ok {
		return nil, fmt.Errorf("reading Istio objects needs the pipeline's reader, not %T", r)
	}
	w := ir.istio
	var problems []model.Problem
	seen := map[types.UID]decodedObject{}
	for _, k := range w.activeKinds() {
		if !k.enforced() {
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
			if err := r.List(ctx, list); err != nil {
				return nil, fmt.Errorf("list %s: %w", k.gvk.Kind, err)
			}
			for i := range list.Items {
				problems = append(problems, notEnforced(k.gvk.Kind, meta(&list.Items[i])))
			}
			continue
		}
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
		if err := r.List(ctx, list); err != nil {
			return nil, fmt.Errorf("list %s: %w", k.gvk.Kind, err)
		}
		for i := range list.Items {
			obj, problem := w.decode(k, &list.Items[i], seen)
			if problem != nil {
				problems = append(problems, *problem)
				continue
			}
			k.add(in, obj)
		}
	}
	w.keepOnly(seen)
	if ir.jwks != nil {
		in.FetchedJWKS = ir.jwks.resolve(ctx, jwksSources(in.RequestAuthentications))
	}
	return problems, nil
}
