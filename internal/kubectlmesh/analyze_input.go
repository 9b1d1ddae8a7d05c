package kubectlmesh

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/model"
)

// analysisInput is everything the checks read, decoded: the Istio config, and from
// Kubernetes the hosts that exist, the workloads' labels and the Secrets' names.
type analysisInput struct {
	domainSuffix  string
	rootNamespace string
	// services are the hostnames of Kubernetes Services.
	services map[string]bool
	// workloads are the labels of pods (and of Deployments' pod templates) by namespace.
	workloads map[string][]map[string]string
	// secrets are "namespace/name" of the Secrets that exist.
	secrets map[string]bool

	virtualServices        []*networkingv1.VirtualService
	destinationRules       []*networkingv1.DestinationRule
	gateways               []*networkingv1.Gateway
	serviceEntries         []*networkingv1.ServiceEntry
	authorizationPolicies  []*securityv1.AuthorizationPolicy
	peerAuthentications    []*securityv1.PeerAuthentication
	requestAuthentications []*securityv1.RequestAuthentication
}

// analyzedIstioKinds are the Istio kinds analyze reads.
var analyzedIstioKinds = []schema.GroupVersionKind{
	networkingv1.SchemeGroupVersion.WithKind("VirtualService"),
	networkingv1.SchemeGroupVersion.WithKind("DestinationRule"),
	networkingv1.SchemeGroupVersion.WithKind("Gateway"),
	networkingv1.SchemeGroupVersion.WithKind("ServiceEntry"),
	securityv1.SchemeGroupVersion.WithKind("AuthorizationPolicy"),
	securityv1.SchemeGroupVersion.WithKind("PeerAuthentication"),
	securityv1.SchemeGroupVersion.WithKind("RequestAuthentication"),
}

// readAnalysisInput lists the objects analyze reads through r (the cluster with the files
// laid over it, or the files alone). Objects that do not decode are returned as messages.
func readAnalysisInput(ctx context.Context, r client.Reader) (*analysisInput, []message, error) {
	in := &analysisInput{domainSuffix: model.DefaultDomainSuffix, services: map[string]bool{},
		workloads: map[string][]map[string]string{}, secrets: map[string]bool{}}
	var services corev1.ServiceList
	var pods corev1.PodList
	var deployments appsv1.DeploymentList
	var secrets corev1.SecretList
	for _, l := range []client.ObjectList{&services, &pods, &deployments, &secrets} {
		if err := r.List(ctx, l); err != nil {
			return nil, nil, fmt.Errorf("list %T: %w", l, err)
		}
	}
	for _, s := range services.Items {
		in.services[model.ServiceHostname(s.Name, s.Namespace, in.domainSuffix)] = true
	}
	for _, p := range pods.Items {
		in.workloads[p.Namespace] = append(in.workloads[p.Namespace], p.Labels)
	}
	for _, d := range deployments.Items {
		in.workloads[d.Namespace] = append(in.workloads[d.Namespace], d.Spec.Template.Labels)
	}
	for _, s := range secrets.Items {
		in.secrets[s.Namespace+"/"+s.Name] = true
	}
	var bad []message
	for _, gvk := range analyzedIstioKinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := r.List(ctx, list); err != nil {
			return nil, nil, fmt.Errorf("list %s: %w", gvk.Kind, err)
		}
		for i := range list.Items {
			if m := in.add(&list.Items[i]); m != nil {
				bad = append(bad, *m)
			}
		}
	}
	in.sort()
	return in, bad, nil
}

// add decodes u into its typed form; an object that does not decode is a message.
func (in *analysisInput) add(u *unstructured.Unstructured) *message {
	data, err := json.Marshal(u.Object)
	if err != nil {
		return nil
	}
	var target any
	switch u.GetKind() {
	case "VirtualService":
		o := &networkingv1.VirtualService{}
		target, in.virtualServices = o, append(in.virtualServices, o)
	case "DestinationRule":
		o := &networkingv1.DestinationRule{}
		target, in.destinationRules = o, append(in.destinationRules, o)
	case "Gateway":
		o := &networkingv1.Gateway{}
		target, in.gateways = o, append(in.gateways, o)
	case "ServiceEntry":
		o := &networkingv1.ServiceEntry{}
		target, in.serviceEntries = o, append(in.serviceEntries, o)
	case "AuthorizationPolicy":
		o := &securityv1.AuthorizationPolicy{}
		target, in.authorizationPolicies = o, append(in.authorizationPolicies, o)
	case "PeerAuthentication":
		o := &securityv1.PeerAuthentication{}
		target, in.peerAuthentications = o, append(in.peerAuthentications, o)
	case "RequestAuthentication":
		o := &securityv1.RequestAuthentication{}
		target, in.requestAuthentications = o, append(in.requestAuthentications, o)
	default:
		return nil
	}
	if err := json.Unmarshal(data, target); err != nil {
		m := schemaError(u.GetKind(), u.GetNamespace(), u.GetName(), "spec", "cannot be decoded: "+err.Error())
		return &m
	}
	return nil
}

// sort orders every kind by namespace and name, so messages come out in a stable order.
func (in *analysisInput) sort() {
	sortByKey(in.virtualServices)
	sortByKey(in.destinationRules)
	sortByKey(in.gateways)
	sortByKey(in.serviceEntries)
	sortByKey(in.authorizationPolicies)
	sortByKey(in.peerAuthentications)
	sortByKey(in.requestAuthentications)
}

func sortByKey[T client.Object](objs []T) {
	slices.SortStableFunc(objs, func(a, b T) int {
		if c := compareStrings(a.GetNamespace(), b.GetNamespace()); c != 0 {
			return c
		}
		return compareStrings(a.GetName(), b.GetName())
	})
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// hostExists reports whether a Service or a ServiceEntry defines host.
func (in *analysisInput) hostExists(host string) bool {
	if in.services[host] {
		return true
	}
	for _, se := range in.serviceEntries {
		for _, h := range se.Spec.GetHosts() {
			if model.HostMatches(h, host) {
				return true
			}
		}
	}
	return false
}

// selectsWorkload reports whether the labels select a workload in namespace (in every
// namespace for a policy in the root namespace).
func (in *analysisInput) selectsWorkload(namespace string, all bool, labels map[string]string) bool {
	for ns, workloads := range in.workloads {
		if !all && ns != namespace {
			continue
		}
		for _, w := range workloads {
			if labelsSelect(labels, w) {
				return true
			}
		}
	}
	return false
}

func labelsSelect(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
