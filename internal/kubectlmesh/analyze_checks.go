package kubectlmesh

import (
	"fmt"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"loom.dev/loom/pkg/model"
)

// check is one analysis: a pure function of the decoded input.
type check func(in *analysisInput) []message

// checks run in this order; each message names its object and field.
var checks = []check{
	checkVirtualServiceReferences,
	checkVirtualServiceConflicts,
	checkDestinationRuleHosts,
	checkPolicySelectors,
	checkGatewayCredentials,
}

// destinationRef is one destination of a VirtualService route, with its field path.
type destinationRef struct {
	field string
	dest  *networking.Destination
}

func virtualServiceDestinations(vs *networking.VirtualService) []destinationRef {
	var out []destinationRef
	for i, r := range vs.GetHttp() {
		for j, d := range r.GetRoute() {
			out = append(out, destinationRef{fmt.Sprintf("spec.http[%d].route[%d].destination", i, j), d.GetDestination()})
		}
		if m := r.GetMirror(); m != nil {
			out = append(out, destinationRef{fmt.Sprintf("spec.http[%d].mirror", i), m})
		}
	}
	for i, r := range vs.GetTcp() {
		for j, d := range r.GetRoute() {
			out = append(out, destinationRef{fmt.Sprintf("spec.tcp[%d].route[%d].destination", i, j), d.GetDestination()})
		}
	}
	for i, r := range vs.GetTls() {
		for j, d := range r.GetRoute() {
			out = append(out, destinationRef{fmt.Sprintf("spec.tls[%d].route[%d].destination", i, j), d.GetDestination()})
		}
	}
	return out
}

// checkVirtualServiceReferences: destinations whose host no Service or ServiceEntry defines,
// subsets no DestinationRule of the host defines, and gateways that do not exist (IST0101).
func checkVirtualServiceReferences(in *analysisInput) []message {
	var out []message
	for _, vs := range in.virtualServices {
		for _, ref := range virtualServiceDestinations(&vs.Spec) {
			host := model.ResolveHost(ref.dest.GetHost(), vs.Namespace, in.domainSuffix)
			if strings.Contains(host, "*") {
				continue
			}
			if !in.hostExists(host) {
				out = append(out, newMessage(msgReferencedResourceNotFound, "VirtualService", vs.Namespace, vs.Name, ref.field+".host",
					"Referenced host not found: %q", ref.dest.GetHost()))
				continue
			}
			if s := ref.dest.GetSubset(); s != "" && !in.subsetExists(host, s) {
				out = append(out, newMessage(msgReferencedResourceNotFound, "VirtualService", vs.Namespace, vs.Name, ref.field+".subset",
					"Referenced host+subset in destinationrule not found: %q", ref.dest.GetHost()+"+"+s))
			}
		}
		for i, gw := range vs.Spec.GetGateways() {
			if gw == "mesh" || in.gatewayExists(gatewayKey(gw, vs.Namespace)) {
				continue
			}
			out = append(out, newMessage(msgReferencedResourceNotFound, "VirtualService", vs.Namespace, vs.Name, fmt.Sprintf("spec.gateways[%d]", i),
				"Referenced gateway not found: %q", gw))
		}
	}
	return out
}

func (in *analysisInput) subsetExists(host, subset string) bool {
	for _, dr := range in.destinationRules {
		if model.ResolveHost(dr.Spec.GetHost(), dr.Namespace, in.domainSuffix) != host {
			continue
		}
		if slices.ContainsFunc(dr.Spec.GetSubsets(), func(s *networking.Subset) bool { return s.GetName() == subset }) {
			return true
		}
	}
	return false
}

// gatewayKey is "namespace/name" of a gateway a VirtualService in namespace names.
func gatewayKey(ref, namespace string) string {
	if ns, name, ok := strings.Cut(ref, "/"); ok {
		return ns + "/" + name
	}
	return namespace + "/" + ref
}

func (in *analysisInput) gatewayExists(key string) bool {
	return slices.ContainsFunc(in.gateways, func(g *networkingv1.Gateway) bool { return g.Namespace+"/"+g.Name == key })
}

// checkVirtualServiceConflicts: VirtualServices that define the same host for the same
// gateway. For the mesh gateway it is Istio's IST0109; for other gateways a warning, as only
// one VirtualService's routes are used for the host.
func checkVirtualServiceConflicts(in *analysisInput) []message {
	type key struct{ gateway, host string }
	owners := map[key][]string{}
	var order []key
	for _, vs := range in.virtualServices {
		gateways := vs.Spec.GetGateways()
		if len(gateways) == 0 {
			gateways = []string{"mesh"}
		}
		for _, gw := range gateways {
			if gw != "mesh" {
				gw = gatewayKey(gw, vs.Namespace)
			}
			for _, h := range vs.Spec.GetHosts() {
				k := key{gw, model.ResolveHost(h, vs.Namespace, in.domainSuffix)}
				name := vs.Namespace + "/" + vs.Name
				if slices.Contains(owners[k], name) {
					continue
				}
				if len(owners[k]) == 0 {
					order = append(order, k)
				}
				owners[k] = append(owners[k], name)
			}
		}
	}
	var out []message
	for _, k := range order {
		names := owners[k]
		if len(names) < 2 {
			continue
		}
		for _, n := range names {
			ns, name, _ := strings.Cut(n, "/")
			if k.gateway == "mesh" {
				out = append(out, newMessage(msgConflictingMeshGatewayVSHost, "VirtualService", ns, name, "spec.hosts",
					"The VirtualServices %s associated with mesh gateway define the same host %s which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.",
					strings.Join(names, ","), k.host))
				continue
			}
			out = append(out, newMessage(msgConflictingGatewayVSHost, "VirtualService", ns, name, "spec.hosts",
				"The VirtualServices %s bound to gateway %s define the same host %s; only one of them routes it. Merge them into a single resource.",
				strings.Join(names, ","), k.gateway, k.host))
		}
	}
	return out
}

// checkDestinationRuleHosts: DestinationRules whose host no Service or ServiceEntry defines,
// so they select nothing (IST0101).
func checkDestinationRuleHosts(in *analysisInput) []message {
	var out []message
	for _, dr := range in.destinationRules {
		host := model.ResolveHost(dr.Spec.GetHost(), dr.Namespace, in.domainSuffix)
		if strings.Contains(host, "*") || in.hostExists(host) {
			continue
		}
		out = append(out, newMessage(msgReferencedResourceNotFound, "DestinationRule", dr.Namespace, dr.Name, "spec.host",
			"Referenced host not found: %q", dr.Spec.GetHost()))
	}
	return out
}

// checkPolicySelectors: AuthorizationPolicies, PeerAuthentications and RequestAuthentications
// whose selector selects no workload (IST0127). A policy in the root namespace applies mesh-wide.
func checkPolicySelectors(in *analysisInput) []message {
	type policy struct {
		kind, namespace, name string
		labels                map[string]string
	}
	var policies []policy
	for _, p := range in.authorizationPolicies {
		policies = append(policies, policy{"AuthorizationPolicy", p.Namespace, p.Name, p.Spec.GetSelector().GetMatchLabels()})
	}
	for _, p := range in.peerAuthentications {
		policies = append(policies, policy{"PeerAuthentication", p.Namespace, p.Name, p.Spec.GetSelector().GetMatchLabels()})
	}
	for _, p := range in.requestAuthentications {
		policies = append(policies, policy{"RequestAuthentication", p.Namespace, p.Name, p.Spec.GetSelector().GetMatchLabels()})
	}
	var out []message
	for _, p := range policies {
		if len(p.labels) == 0 || in.selectsWorkload(p.namespace, p.namespace == in.rootNamespace, p.labels) {
			continue
		}
		out = append(out, newMessage(msgNoMatchingWorkloadsFound, p.kind, p.namespace, p.name, "spec.selector.matchLabels",
			"No matching workloads for this resource with the following labels: %s", formatLabels(p.labels)))
	}
	return out
}

func formatLabels(labels map[string]string) string {
	pairs := make([]string, 0, len(labels))
	for k, v := range labels {
		pairs = append(pairs, k+"="+v)
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}

// checkGatewayCredentials: TLS servers whose credentialName names a Secret that does not
// exist in the namespace of any workload the Gateway selects (IST0101). With no workload
// found, a Secret of that name in any namespace will do.
func checkGatewayCredentials(in *analysisInput) []message {
	var out []message
	for _, gw := range in.gateways {
		namespaces := in.namespacesSelected(gw.Spec.GetSelector())
		for i, srv := range gw.Spec.GetServers() {
			name := srv.GetTls().GetCredentialName()
			if name == "" || in.secretIn(name, namespaces) {
				continue
			}
			out = append(out, newMessage(msgReferencedResourceNotFound, "Gateway", gw.Namespace, gw.Name, fmt.Sprintf("spec.servers[%d].tls.credentialName", i),
				"Referenced credentialName not found: %q", name))
		}
	}
	return out
}

// namespacesSelected are the namespaces of the workloads selector selects (a Gateway selects
// across namespaces); nil when it selects none.
func (in *analysisInput) namespacesSelected(selector map[string]string) []string {
	var out []string
	for ns, workloads := range in.workloads {
		if slices.ContainsFunc(workloads, func(l map[string]string) bool { return labelsSelect(selector, l) }) {
			out = append(out, ns)
		}
	}
	return out
}

func (in *analysisInput) secretIn(name string, namespaces []string) bool {
	if len(namespaces) == 0 {
		for key := range in.secrets {
			if _, n, _ := strings.Cut(key, "/"); n == name {
				return true
			}
		}
		return false
	}
	return slices.ContainsFunc(namespaces, func(ns string) bool { return in.secrets[ns+"/"+name] })
}
