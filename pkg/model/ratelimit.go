package model

import "slices"

// RateLimitPolicy is a policy.loom.dev RateLimitPolicy: token buckets a
// workload's proxy applies to the HTTP requests it lets in.
type RateLimitPolicy = Config[*RateLimitPolicySpec]

// KindRateLimitPolicy names the kind in problems.
const KindRateLimitPolicy = "RateLimitPolicy"

// RateLimitPolicySpec is the policy's spec, as the API defines it.
type RateLimitPolicySpec struct {
	// Selector picks workloads of the namespace by label; nil: all of them.
	Selector   map[string]string
	TargetRefs []RateLimitTargetRef
	Rules      []RateLimitRule
}

// RateLimitTargetRef names a Service of the policy's namespace.
type RateLimitTargetRef struct{ Kind, Name string }

// RateLimitRule is one token bucket and the requests that draw from it.
type RateLimitRule struct {
	Limit RateLimitLimit
	// Match is nil for every request.
	Match *RateLimitMatch
	// PerClient is nil for one bucket shared by every client.
	PerClient *RateLimitClient
	Response  RateLimitResponse
}

// RateLimitUnit is the time requests are counted over.
type RateLimitUnit string

const (
	RateLimitSecond RateLimitUnit = "Second"
	RateLimitMinute RateLimitUnit = "Minute"
	RateLimitHour   RateLimitUnit = "Hour"
)

// RateLimitLimit is a token bucket: Requests tokens every Unit, up to Burst
// (Requests when zero).
type RateLimitLimit struct {
	Requests int64
	Unit     RateLimitUnit
	Burst    int64
}

// BucketSize is the bucket's capacity.
func (l RateLimitLimit) BucketSize() int64 {
	if l.Burst == 0 {
		return l.Requests
	}
	return l.Burst
}

// RateLimitMatch is what a request must have for a rule to apply: all of it.
type RateLimitMatch struct {
	// RouteName is the name of the VirtualService http route (HTTPRoute.name,
	// after delegation) that must have routed the request; empty for any.
	RouteName string
	Path      *StringMatch
	Method    string
	Headers   []RateLimitHeaderMatch
}

// StringMatch matches exactly or by prefix: one of the two is set.
type StringMatch struct{ Exact, Prefix string }

// RateLimitHeaderMatch matches a request header's value.
type RateLimitHeaderMatch struct {
	Name string
	StringMatch
}

// RateLimitClient keys a bucket per client: one of the two is set.
type RateLimitClient struct {
	SourcePrincipal bool
	Header          string
}

// RateLimitResponse answers a rejected request.
type RateLimitResponse struct {
	// Status is DefaultRateLimitStatus when zero.
	Status  int
	Headers []HeaderValue
}

// HeaderValue is a header to add.
type HeaderValue struct{ Name, Value string }

// DefaultRateLimitStatus is the status of a rejected request (Too Many Requests).
const DefaultRateLimitStatus = 429

// StatusOrDefault is the status a rejected request gets.
func (r RateLimitResponse) StatusOrDefault() int {
	if r.Status == 0 {
		return DefaultRateLimitStatus
	}
	return r.Status
}

// AppliedRateLimitRule is a valid rule of a policy that applies to one
// workload.
type AppliedRateLimitRule struct {
	Policy *RateLimitPolicy
	// Index is the rule's position in spec.rules.
	Index int
	Rule  RateLimitRule
}

// rateLimitPolicy is a policy Build kept, with which of its rules are valid.
type rateLimitPolicy struct {
	policy *RateLimitPolicy
	valid  []bool
}

// RateLimitRulesFor lists the valid rules of the policies that apply to a
// workload in namespace with labels, oldest policy first, rules in order.
// Selection is AuthorizationPolicy's: without selector a policy applies to
// its namespace (mesh-wide in the root namespace), with one to the
// matching workloads; targetRefs pick the workloads of the policy's
// namespace that the named Services select.
func (s *Snapshot) RateLimitRulesFor(namespace string, labels map[string]string) []AppliedRateLimitRule {
	var out []AppliedRateLimitRule
	for _, rp := range s.rateLimitPolicies {
		if !s.rateLimitSelects(rp.policy, namespace, labels) {
			continue
		}
		for i, rule := range rp.policy.Spec.Rules {
			if rp.valid[i] {
				out = append(out, AppliedRateLimitRule{Policy: rp.policy, Index: i, Rule: rule})
			}
		}
	}
	return out
}

// RateLimitPolicies returns the policies Build kept, oldest first.
func (s *Snapshot) RateLimitPolicies() []*RateLimitPolicy {
	out := make([]*RateLimitPolicy, 0, len(s.rateLimitPolicies))
	for _, rp := range s.rateLimitPolicies {
		out = append(out, rp.policy)
	}
	return out
}

func (s *Snapshot) rateLimitSelects(p *RateLimitPolicy, namespace string, labels map[string]string) bool {
	if len(p.Spec.TargetRefs) > 0 {
		return p.Namespace == namespace && slices.ContainsFunc(p.Spec.TargetRefs, func(ref RateLimitTargetRef) bool {
			return s.serviceSelects(namespace, ref.Name, labels)
		})
	}
	inScope := p.Namespace == s.rootNamespace || p.Namespace == namespace
	return inScope && (len(p.Spec.Selector) == 0 || labelsMatch(p.Spec.Selector, labels))
}

// indexRateLimitPolicies keeps the policies whose spec is usable, with
// their valid rules, and reports every error. A policy-wide error (both
// selector and targetRefs, a target that is not a Service, no rules) drops
// the policy; an invalid rule is dropped alone. Rate limiting fails open
// here: a rule Loom cannot read limits nothing, and says so.
func (s *Snapshot) indexRateLimitPolicies(in []*RateLimitPolicy) {
	for _, p := range sortedByAge(slices.DeleteFunc(slices.Clone(in), func(p *RateLimitPolicy) bool { return p == nil || p.Spec == nil })) {
		policyWide, byRule := ValidateRateLimitPolicy(p.Spec)
		for _, e := range policyWide {
			s.report(KindRateLimitPolicy, p.Meta, e.Field, "%s: the policy is not enforced", e.Message)
		}
		if len(policyWide) > 0 {
			continue
		}
		rp := rateLimitPolicy{policy: p, valid: make([]bool, len(p.Spec.Rules))}
		for i := range p.Spec.Rules {
			rp.valid[i] = len(byRule[i]) == 0
			for _, e := range byRule[i] {
				s.report(KindRateLimitPolicy, p.Meta, e.Field, "%s: the rule is not enforced", e.Message)
			}
		}
		s.rateLimitPolicies = append(s.rateLimitPolicies, rp)
	}
}
