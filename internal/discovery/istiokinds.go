package discovery

import (
	"slices"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/istiocrds"
	"loom.dev/loom/pkg/model"
)

// istioKind is one Istio API discovery watches. Enforced kinds are watched
// as unstructured objects and decoded one by one, so an object the typed
// client could not decode is skipped instead of stopping the whole watch;
// the others are watched as metadata only, to report that they have no effect.
type istioKind struct {
	gvk schema.GroupVersionKind
	// crd is the name of the CRD that serves the kind (plural.group).
	crd string
	// typed returns the empty istio.io/client-go object to decode into;
	// nil for a kind Loom does not enforce yet.
	typed func() runtime.Object
	// add puts a decoded object into the model's input.
	add func(*model.Input, runtime.Object)
	// decode replaces decodeIstio for a kind outside its scheme.
	decode func(obj map[string]any, into runtime.Object) (field string, err error)
}

func (k istioKind) enforced() bool { return k.typed != nil }

// object is the empty object the cache watches for the kind.
func (k istioKind) object() client.Object {
	if !k.enforced() {
		o := &metav1.PartialObjectMetadata{}
		o.SetGroupVersionKind(k.gvk)
		return o
	}
	o := &unstructured.Unstructured{}
	o.SetGroupVersionKind(k.gvk)
	return o
}

// enforcedKind is a networking.istio.io/v1 kind the model acts on: objects
// are decoded into a T and handed to add.
func enforcedKind[T any, PT interface {
	*T
	runtime.Object
}](name, plural string, add func(*model.Input, PT)) istioKind {
	return enforcedKindOf(networkingv1.SchemeGroupVersion, name, plural, add)
}

// enforcedKindOf is enforcedKind for a kind of any Istio group version.
func enforcedKindOf[T any, PT interface {
	*T
	runtime.Object
}](gv schema.GroupVersion, name, plural string, add func(*model.Input, PT)) istioKind {
	return istioKind{
		gvk:   gv.WithKind(name),
		crd:   plural + "." + gv.Group,
		typed: func() runtime.Object { return PT(new(T)) },
		add:   func(in *model.Input, o runtime.Object) { add(in, o.(PT)) },
	}
}

// enforcedIstioKinds are the kinds the model acts on.
func enforcedIstioKinds() []istioKind {
	return []istioKind{
		enforcedKind("VirtualService", "virtualservices", func(in *model.Input, o *networkingv1.VirtualService) {
			in.VirtualServices = append(in.VirtualServices, convertVirtualService(o))
		}),
		enforcedKind("DestinationRule", "destinationrules", func(in *model.Input, o *networkingv1.DestinationRule) {
			in.DestinationRules = append(in.DestinationRules, convertDestinationRule(o))
		}),
		enforcedKind("Gateway", "gateways", func(in *model.Input, o *networkingv1.Gateway) {
			in.Gateways = append(in.Gateways, convertGateway(o))
		}),
		enforcedKind("Sidecar", "sidecars", func(in *model.Input, o *networkingv1.Sidecar) {
			in.Sidecars = append(in.Sidecars, convertSidecar(o))
		}),
		enforcedKind("ServiceEntry", "serviceentries", func(in *model.Input, o *networkingv1.ServiceEntry) {
			in.ServiceEntries = append(in.ServiceEntries, convertServiceEntry(o))
		}),
		enforcedKind("WorkloadEntry", "workloadentries", func(in *model.Input, o *networkingv1.WorkloadEntry) {
			in.WorkloadEntries = append(in.WorkloadEntries, convertWorkloadEntry(o))
		}),
		enforcedKindOf(securityv1.SchemeGroupVersion, "PeerAuthentication", "peerauthentications", func(in *model.Input, o *securityv1.PeerAuthentication) {
			in.PeerAuthentications = append(in.PeerAuthentications, convertPeerAuthentication(o))
		}),
		enforcedKindOf(securityv1.SchemeGroupVersion, "AuthorizationPolicy", "authorizationpolicies", func(in *model.Input, o *securityv1.AuthorizationPolicy) {
			in.AuthorizationPolicies = append(in.AuthorizationPolicies, convertAuthorizationPolicy(o))
		}),
		enforcedKindOf(securityv1.SchemeGroupVersion, "RequestAuthentication", "requestauthentications", func(in *model.Input, o *securityv1.RequestAuthentication) {
			in.RequestAuthentications = append(in.RequestAuthentications, convertRequestAuthentication(o))
		}),
		telemetryKind(),
		rateLimitPolicyKind(),
	}
}

// istioKinds are every Istio API Loom installs a CRD for: the enforced ones,
// then the rest, which are reported as not enforced.
func istioKinds() []istioKind {
	kinds := enforcedIstioKinds()
	for _, crd := range istiocrds.CRDs() {
		if slices.ContainsFunc(kinds, func(k istioKind) bool { return k.crd == crd.Name }) {
			continue
		}
		version := crd.Spec.Versions[0].Name
		for _, v := range crd.Spec.Versions {
			if v.Storage {
				version = v.Name
			}
		}
		kinds = append(kinds, istioKind{
			gvk: schema.GroupVersionKind{Group: crd.Spec.Group, Version: version, Kind: crd.Spec.Names.Kind},
			crd: crd.Name,
		})
	}
	return kinds
}

// notEnforced is the problem every object of a kind Loom does not enforce
// yet stands for: users must not believe, say, a DENY policy protects them.
func notEnforced(kind string, m model.Meta) model.Problem {
	return model.Problem{Kind: kind, Meta: m, Message: "not enforced: Loom does not implement " + kind +
		" yet, so this object has no effect on any proxy"}
}
