package translate

import (
	"fmt"
	"strconv"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacpb "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	rbacnetv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	security "istio.io/api/security/v1beta1"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/validation"
)

// Filter names of the RBAC engines, in the order they run: CUSTOM (shadow
// rules and ext_authz, see rbac_custom.go), AUDIT (log only), DENY, ALLOW.
// Envoy picks the implementation by type, so the names only tell the
// engines apart; Envoy stores RBAC metadata under these base names.
const (
	rbacHTTPFilterName    = "envoy.filters.http.rbac"
	rbacNetworkFilterName = "envoy.filters.network.rbac"
)

// rbacEngines are the RBAC configs of one workload in one context; nil
// when no policy of that action applies.
type rbacEngines struct {
	// custom holds the CUSTOM rules as shadow rules that choose what the
	// external authorizer checks.
	custom             *rbacpb.RBAC
	audit, deny, allow *rbacpb.RBAC
}

// inboundAuthz is what AuthorizationPolicy puts in front of a workload's
// inbound traffic: HTTP filters for HTTP connection managers (before
// everything else, so that nothing runs for a denied request) and network
// filters for TCP filter chains (before tcp_proxy).
type inboundAuthz struct {
	http    []*hcmv3.HttpFilter
	network []*listenerv3.Filter
}

// authzFor builds the inboundAuthz of proxy p from the policies that apply
// to its workload: RequestAuthentication's jwt_authn filter first (see
// jwtFilterFor), then the RBAC filters, then RateLimitPolicy's local rate
// limit filters (after authorization, so that a denied request consumes no
// token). Proxyless gRPC gets only the RBAC HTTP filters, in the form
// gRPC-Go evaluates.
func authzFor(snap *model.Snapshot, p model.Proxy) (inboundAuthz, []model.Problem) {
	jwt, jwtProblems := jwtFilterFor(snap, p)
	out, problems := rbacFor(snap, p)
	if jwt != nil {
		out.http = append([]*hcmv3.HttpFilter{jwt}, out.http...)
	}
	limits, limitProblems := rateLimitFiltersFor(snap, p)
	out.http = append(out.http, limits...)
	return out, append(append(jwtProblems, problems...), limitProblems...)
}

func rbacFor(snap *model.Snapshot, p model.Proxy) (inboundAuthz, []model.Problem) {
	applied := snap.AuthorizationPoliciesFor(p.Namespace, p.Labels)
	if len(applied) == 0 {
		return inboundAuthz{}, nil
	}
	td := snap.TrustDomain()
	var out inboundAuthz
	ext, problems := customAuthzFor(snap, p, applied)
	if p.Kind == model.KindGRPC {
		engines, ps := buildRBAC(applied, rbacContext{grpc: true, trustDomain: td}, customDeny)
		out.http = engines.httpFilters()
		return out, append(problems, ps...)
	}
	httpMode, tcpMode := ext.customModes()
	httpEngines, ps := buildRBAC(applied, rbacContext{trustDomain: td}, httpMode)
	problems = append(problems, ps...)
	tcpEngines, ps := buildRBAC(applied, rbacContext{tcp: true, trustDomain: td}, tcpMode)
	problems = append(problems, ps...)
	out.http = append(ext.httpFilters(httpEngines.custom), httpEngines.httpFilters()...)
	out.network = append(ext.networkFilters(tcpEngines.custom), tcpEngines.networkFilters()...)
	return out, problems
}

func (e rbacEngines) list() []struct {
	suffix string
	rules  *rbacpb.RBAC
} {
	return []struct {
		suffix string
		rules  *rbacpb.RBAC
	}{{"audit", e.audit}, {"deny", e.deny}, {"allow", e.allow}}
}

func (e rbacEngines) httpFilters() []*hcmv3.HttpFilter {
	var out []*hcmv3.HttpFilter
	for _, r := range e.list() {
		if r.rules != nil {
			out = append(out, httpFilter(rbacHTTPFilterName+"."+r.suffix, anyOf(&rbachttpv3.RBAC{Rules: r.rules})))
		}
	}
	return out
}

func (e rbacEngines) networkFilters() []*listenerv3.Filter {
	var out []*listenerv3.Filter
	for _, r := range e.list() {
		if r.rules != nil {
			out = append(out, networkFilter(rbacNetworkFilterName+"."+r.suffix, &rbacnetv3.RBAC{Rules: r.rules, StatPrefix: "tcp."}))
		}
	}
	return out
}

// rbacPolicyName is Istio's name of a rule's policy, which Envoy's RBAC
// logs and stats report.
func rbacPolicyName(ap *model.AuthorizationPolicy, rule int) string {
	name := fmt.Sprintf("ns[%s]-policy[%s]-rule[%d]", ap.Namespace, ap.Name, rule)
	if ap.Spec.GetAction() == security.AuthorizationPolicy_CUSTOM {
		name = extAuthzPolicyPrefix + "-" + name
	}
	return name
}

// buildRBAC translates the policies that apply to a workload, in ctx.
//
// CUSTOM (mode): with a usable authorizer the rules become the shadow
// rules that pick the requests it checks; without one (unknown provider or
// service, proxyless gRPC), as istiod does for a bad CUSTOM policy, every
// request they match is denied: they join the DENY engine. An HTTP
// authorizer cannot check TCP connections: there the policy is skipped and
// reported, as Istio skips it.
//
// Invalid input fails closed for the workloads the policy selects: an
// invalid DENY (or CUSTOM) rule denies every request, an invalid ALLOW rule
// allows nothing (the ALLOW engine still exists, so requests no other
// ALLOW rule matches are denied). Istio would skip an invalid DENY rule,
// which leaves traffic it meant to stop open.
//
// A field this context cannot evaluate (HTTP attributes on TCP, what
// gRPC-Go cannot evaluate) drops an ALLOW rule and is left out of a DENY
// rule, which then matches more, as Istio does; both are reported.
func buildRBAC(applied []model.AppliedAuthorizationPolicy, ctx rbacContext, custom customMode) (rbacEngines, []model.Problem) {
	t := &rbacTranslation{ctx: ctx, custom: custom}
	for _, a := range applied {
		if a.Policy.Spec.GetAction() == security.AuthorizationPolicy_AUDIT && ctx.grpc {
			continue // gRPC-Go ignores a LOG engine (gRFC A41): nothing to send
		}
		t.add(a)
	}
	return t.engines, t.problems
}

// rbacTranslation collects the engines and problems of one context.
type rbacTranslation struct {
	ctx      rbacContext
	custom   customMode
	engines  rbacEngines
	problems []model.Problem
}

// engine is the RBAC config an action's rules go to, made on first use:
// a policy that applies creates its engine even if none of its rules
// survive, so an ALLOW policy always turns on default deny.
func (t *rbacTranslation) engine(action security.AuthorizationPolicy_Action) *rbacpb.RBAC {
	ptr, rbacAction := &t.engines.allow, rbacpb.RBAC_ALLOW
	switch {
	case action == security.AuthorizationPolicy_CUSTOM && t.custom == customShadow:
		// DENY, as Istio does, so that a rule widened on TCP matches more.
		ptr, rbacAction = &t.engines.custom, rbacpb.RBAC_DENY
	case action == security.AuthorizationPolicy_DENY, action == security.AuthorizationPolicy_CUSTOM:
		ptr, rbacAction = &t.engines.deny, rbacpb.RBAC_DENY
	case action == security.AuthorizationPolicy_AUDIT:
		ptr, rbacAction = &t.engines.audit, rbacpb.RBAC_LOG
	}
	if *ptr == nil {
		*ptr = &rbacpb.RBAC{Action: rbacAction, Policies: map[string]*rbacpb.Policy{}}
	}
	return *ptr
}

func (t *rbacTranslation) report(o origin, field, format string, args ...any) {
	t.problems = append(t.problems, o.at("%s", field).problem(format, args...))
}

func (t *rbacTranslation) add(a model.AppliedAuthorizationPolicy) {
	ap := a.Policy
	action := ap.Spec.GetAction()
	o := origin{kind: model.KindAuthorizationPolicy, meta: ap.Meta}
	denies := action == security.AuthorizationPolicy_DENY || action == security.AuthorizationPolicy_CUSTOM
	if action == security.AuthorizationPolicy_CUSTOM && t.custom == customSkip {
		t.report(o, "spec.provider.name", "provider %q is an HTTP authorizer, which cannot check TCP connections: this CUSTOM policy is not enforced on TCP traffic, as in Istio (use an envoyExtAuthzGrpc provider to check them)",
			ap.Spec.GetProvider().GetName())
		return
	}
	rules := t.engine(action)
	// A rule that fails closed denies: an invalid CUSTOM rule too, rather
	// than ask the authorizer.
	closeRule := func(name string) {
		if action == security.AuthorizationPolicy_CUSTOM {
			t.engine(security.AuthorizationPolicy_DENY).Policies[name] = matchAll()
		} else {
			rules.Policies[name] = matchAll()
		}
	}
	policyWide, ruleErrors := authzFindings(ap)
	for _, f := range policyWide {
		t.report(o, f.Field, "%s; %s", f.Message, failClosed(action))
	}
	// A Service targetRef is reported by the model; it fails closed too.
	if len(policyWide) > 0 || a.TargetRefField != "" {
		if denies {
			closeRule(rbacPolicyName(ap, 0))
		}
		return
	}
	if len(ap.Spec.GetRules()) == 0 {
		rules.Policies[rbacPolicyName(ap, 0)] = matchNever()
		return
	}
	for i, rule := range ap.Spec.GetRules() {
		name := rbacPolicyName(ap, i)
		if errs := ruleErrors[i]; len(errs) > 0 {
			for _, f := range errs {
				t.report(o, f.Field, "%s; %s", f.Message, failClosed(action))
			}
			if denies {
				closeRule(name)
			}
			continue
		}
		b := &ruleBuilder{ctx: t.ctx, policyNamespace: ap.Namespace}
		policy := b.policy(rule, fmt.Sprintf("spec.rules[%d]", i))
		for _, field := range b.literal {
			t.report(o, field, "a '*' inside a value is matched literally, as Istio does: it is a wildcard only at the start or the end (paths: use {*} or {**})")
		}
		for _, u := range b.unexpressed {
			if denies {
				t.report(o, u.field, "%s: left out of this rule on %s, so it %s", u.why, t.ctx.name(), t.widenedVerb(action))
			} else {
				t.report(o, u.field, "%s: this rule %s nothing on %s", u.why, verb(action), t.ctx.name())
			}
		}
		if len(b.unexpressed) > 0 && !denies {
			continue
		}
		if err := policy.ValidateAll(); err != nil {
			t.report(o, fmt.Sprintf("spec.rules[%d]", i), "cannot be expressed as a valid Envoy RBAC policy (%v); %s", err, failClosed(action))
			if denies {
				closeRule(name)
			}
			continue
		}
		rules.Policies[name] = policy
	}
}

// widenedVerb says what a DENY or CUSTOM rule does to more requests when a
// field is left out of it.
func (t *rbacTranslation) widenedVerb(action security.AuthorizationPolicy_Action) string {
	if action == security.AuthorizationPolicy_CUSTOM && t.custom == customShadow {
		return "sends more requests to the external authorizer"
	}
	return "denies more"
}

func verb(action security.AuthorizationPolicy_Action) string {
	if action == security.AuthorizationPolicy_AUDIT {
		return "audits"
	}
	return "allows"
}

func failClosed(action security.AuthorizationPolicy_Action) string {
	switch action {
	case security.AuthorizationPolicy_DENY, security.AuthorizationPolicy_CUSTOM:
		return "failing closed: the rule denies every request to the workloads this policy selects"
	case security.AuthorizationPolicy_AUDIT:
		return "the rule audits nothing"
	}
	return "failing closed: the rule allows nothing"
}

// authzFindings validates a policy with the webhook's checks: errors that
// concern one rule, by rule index, and the ones that concern the policy.
// A DENY or CUSTOM policy without rules is accepted here: Istio lets it
// match nothing.
func authzFindings(ap *model.AuthorizationPolicy) (policyWide []validation.Finding, byRule map[int][]validation.Finding) {
	action := ap.Spec.GetAction()
	for _, f := range validation.AuthorizationPolicy(ap.Spec).Errors {
		switch {
		case f.Field == "spec.rules" && len(ap.Spec.GetRules()) == 0:
			continue
		case strings.HasPrefix(f.Field, "spec.provider") && action == security.AuthorizationPolicy_CUSTOM:
			continue // an unusable provider is reported by customAuthzFor, and fails closed
		case strings.HasPrefix(f.Field, "spec.targetRef"):
			continue // reported by the model
		}
		if i, ok := ruleIndex(f.Field); ok {
			if byRule == nil {
				byRule = map[int][]validation.Finding{}
			}
			byRule[i] = append(byRule[i], f)
			continue
		}
		policyWide = append(policyWide, f)
	}
	return policyWide, byRule
}

// ruleIndex reads i from "spec.rules[i]...".
func ruleIndex(field string) (int, bool) {
	rest, ok := strings.CutPrefix(field, "spec.rules[")
	if !ok {
		return 0, false
	}
	end := strings.Index(rest, "]")
	if end < 0 {
		return 0, false
	}
	i, err := strconv.Atoi(rest[:end])
	return i, err == nil
}

// withNetwork puts the network RBAC filters in front of a TCP chain's
// terminal filter.
func (a inboundAuthz) withNetwork(terminal *listenerv3.Filter) []*listenerv3.Filter {
	return append(append([]*listenerv3.Filter(nil), a.network...), terminal)
}
