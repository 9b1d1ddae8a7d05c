package model

import (
	"fmt"

	security "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
)

// AuthorizationPolicy is a security.istio.io AuthorizationPolicy (v1 and
// v1beta1 share the spec): which requests a workload's proxy lets in.
type AuthorizationPolicy = Config[*security.AuthorizationPolicy]

// KindAuthorizationPolicy names the kind in problems.
const KindAuthorizationPolicy = "AuthorizationPolicy"

// AppliedAuthorizationPolicy is a policy that applies to one workload and
// how it was picked.
type AppliedAuthorizationPolicy struct {
	Policy *AuthorizationPolicy
	// TargetRefField, when set, names the targetRef that picked the
	// workload (a Service it serves). Istio enforces such a policy only on
	// a waypoint; Loom runs none, so the policy must fail closed on the
	// service's workloads instead of being silently skipped.
	TargetRefField string
}

// authzTargetRefs are the policy's target references as Istio reads them:
// targetRefs, or the legacy targetRef when targetRefs is empty.
func authzTargetRefs(ap *AuthorizationPolicy) []*typev1beta1.PolicyTargetReference {
	if refs := ap.Spec.GetTargetRefs(); len(refs) > 0 {
		return refs
	}
	if ref := ap.Spec.GetTargetRef(); ref != nil {
		return []*typev1beta1.PolicyTargetReference{ref}
	}
	return nil
}

func targetRefField(ap *AuthorizationPolicy, i int) string {
	if len(ap.Spec.GetTargetRefs()) == 0 {
		return "spec.targetRef"
	}
	return fmt.Sprintf("spec.targetRefs[%d]", i)
}

// isServiceRef reports whether a target reference names a core Service.
func isServiceRef(ref *typev1beta1.PolicyTargetReference) bool {
	return ref.GetKind() == "Service" && (ref.GetGroup() == "" || ref.GetGroup() == "core")
}

// AuthorizationPoliciesFor lists the policies that apply to a workload in
// namespace with labels, oldest first, as Istio selects them:
//   - a policy without selector in the root namespace applies mesh-wide;
//   - a policy without selector applies to its namespace's workloads;
//   - a policy with a selector applies to the matching workloads of its
//     namespace, or of every namespace when it is in the root namespace.
//
// A policy with targetRef(s) does not apply through its selector (Istio
// rejects the combination); its Service targets pick the workloads the
// Service selects in the policy's namespace (see TargetRefField). Other
// target kinds pick no proxy Loom runs and are reported by Build.
func (s *Snapshot) AuthorizationPoliciesFor(namespace string, labels map[string]string) []AppliedAuthorizationPolicy {
	var out []AppliedAuthorizationPolicy
	for _, ap := range s.authorizationPolicies {
		if refs := authzTargetRefs(ap); len(refs) > 0 {
			if ap.Namespace != namespace {
				continue
			}
			for i, ref := range refs {
				if isServiceRef(ref) && s.serviceSelects(namespace, ref.GetName(), labels) {
					out = append(out, AppliedAuthorizationPolicy{Policy: ap, TargetRefField: targetRefField(ap, i)})
					break
				}
			}
			continue
		}
		selector := ap.Spec.GetSelector().GetMatchLabels()
		inScope := ap.Namespace == s.rootNamespace || ap.Namespace == namespace
		if inScope && (len(selector) == 0 || labelsMatch(selector, labels)) {
			out = append(out, AppliedAuthorizationPolicy{Policy: ap})
		}
	}
	return out
}

func (s *Snapshot) serviceSelects(namespace, name string, labels map[string]string) bool {
	for _, svc := range s.services {
		if svc.Namespace == namespace && svc.Name == name && svc.Source == SourceKubernetes &&
			len(svc.Selector) > 0 && labelsMatch(svc.Selector, labels) {
			return true
		}
	}
	return false
}

// checkAuthorizationPolicies reports target references that pick no proxy
// Loom runs: Istio enforces them on waypoints and Gateway API gateways.
func (s *Snapshot) checkAuthorizationPolicies() {
	for _, ap := range s.authorizationPolicies {
		for i, ref := range authzTargetRefs(ap) {
			field := targetRefField(ap, i)
			if isServiceRef(ref) {
				s.report(KindAuthorizationPolicy, ap.Meta, field,
					"Istio enforces a policy bound to Service %s only on its waypoint, which Loom does not run: the workloads the Service selects apply it fail-closed instead (DENY and CUSTOM deny every request, ALLOW allows nothing)", ref.GetName())
				continue
			}
			s.report(KindAuthorizationPolicy, ap.Meta, field,
				"not enforced: %s %s/%s is not a proxy Loom runs (Istio applies such a reference to waypoints and Gateway API gateways only)", ref.GetKind(), ref.GetGroup(), ref.GetName())
		}
	}
}

func validAuthorizationPolicies(in []*AuthorizationPolicy) []*AuthorizationPolicy {
	out := make([]*AuthorizationPolicy, 0, len(in))
	for _, ap := range in {
		if ap != nil && ap.Spec != nil {
			out = append(out, ap)
		}
	}
	return sortedByAge(out)
}
