package translate

import (
	"fmt"
	"strings"

	rbacpb "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	security "istio.io/api/security/v1beta1"
)

// rbacContext is where a rule is evaluated: it decides which attributes
// exist.
type rbacContext struct {
	// tcp: the network RBAC filter, which sees no HTTP request.
	tcp bool
	// grpc: gRPC-Go's RBAC (gRFC A41), which cannot evaluate URI
	// templates, Envoy filter metadata, or the :scheme and grpc-* headers.
	grpc        bool
	trustDomain string
}

func (c rbacContext) name() string {
	switch {
	case c.grpc:
		return "proxyless gRPC servers"
	case c.tcp:
		return "TCP traffic"
	}
	return "HTTP traffic"
}

// unexpressed is a field of a rule that this context cannot evaluate.
type unexpressed struct {
	field, why string
}

// ruleBuilder translates one rule; unexpressed collects what it had to
// leave out. The caller decides what leaving it out means: an ALLOW rule
// is dropped, a DENY rule is widened, as Istio does.
type ruleBuilder struct {
	ctx             rbacContext
	policyNamespace string
	unexpressed     []unexpressed
	// literal are fields with a '*' inside a value: Istio matches it
	// literally, which is rarely what the author meant.
	literal []string
}

// noteLiteralStars records fields whose values have a '*' Istio does not
// treat as a wildcard: one not at the start or end of the value.
func (b *ruleBuilder) noteLiteralStars(field string, values []string) {
	for _, v := range values {
		if isPathTemplate(v) {
			continue
		}
		inner := strings.TrimSuffix(strings.TrimPrefix(v, "*"), "*")
		if strings.Contains(inner, "*") {
			b.literal = append(b.literal, field)
			return
		}
	}
}

type principalGen func(v string) (*rbacpb.Principal, string)
type permissionGen func(v string) (*rbacpb.Permission, string)

const httpOnly = "applies to HTTP requests only"

func (b *ruleBuilder) principals(and []*rbacpb.Principal, field string, values []string, negate bool, gen principalGen) []*rbacpb.Principal {
	return appendAnyOf(b, and, field, values, negate, gen, principalOr, principalNot)
}

func (b *ruleBuilder) permissions(and []*rbacpb.Permission, field string, values []string, negate bool, gen permissionGen) []*rbacpb.Permission {
	return appendAnyOf(b, and, field, values, negate, gen, permissionOr, permissionNot)
}

// appendAnyOf appends to and the matcher of "any of values" (negated when negate), or
// nothing when values is empty or one of them cannot be expressed (noted in b.unexpressed).
func appendAnyOf[T any](b *ruleBuilder, and []T, field string, values []string, negate bool,
	gen func(string) (T, string), anyOf func([]T) T, not func(T) T) []T {
	if len(values) == 0 {
		return and
	}
	or := make([]T, 0, len(values))
	for _, v := range values {
		m, why := gen(v)
		if why != "" {
			b.unexpressed = append(b.unexpressed, unexpressed{field, why})
			return and
		}
		or = append(or, m)
	}
	m := or[0]
	if len(or) > 1 || negate {
		m = anyOf(or)
	}
	if negate {
		m = not(m)
	}
	return append(and, m)
}

// both adds a values/notValues pair.
func (b *ruleBuilder) principalPair(and []*rbacpb.Principal, field, notField string, values, notValues []string, gen principalGen) []*rbacpb.Principal {
	and = b.principals(and, field, values, false, gen)
	return b.principals(and, notField, notValues, true, gen)
}

func (b *ruleBuilder) permissionPair(and []*rbacpb.Permission, field, notField string, values, notValues []string, gen permissionGen) []*rbacpb.Permission {
	and = b.permissions(and, field, values, false, gen)
	return b.permissions(and, notField, notValues, true, gen)
}

// policy translates a rule found at field at (spec.rules[i]) as Istio does:
// each from is an OR of principals, each to an OR of permissions, when
// conditions are ANDed into both sides.
func (b *ruleBuilder) policy(rule *security.Rule, at string) *rbacpb.Policy {
	var whenPrincipals []*rbacpb.Principal
	var whenPermissions []*rbacpb.Permission
	for i, c := range rule.GetWhen() {
		f := fmt.Sprintf("%s.when[%d]", at, i)
		if pg, ok := b.whenPrincipal(c.GetKey()); ok {
			whenPrincipals = b.principalPair(whenPrincipals, f+".values", f+".notValues", c.GetValues(), c.GetNotValues(), pg)
		} else if mg, ok := b.whenPermission(c.GetKey()); ok {
			whenPermissions = b.permissionPair(whenPermissions, f+".values", f+".notValues", c.GetValues(), c.GetNotValues(), mg)
		} else {
			b.unexpressed = append(b.unexpressed, unexpressed{f + ".key", "unknown attribute " + c.GetKey()})
		}
	}
	out := &rbacpb.Policy{}
	for i, from := range rule.GetFrom() {
		out.Principals = append(out.Principals, b.source(from.GetSource(), fmt.Sprintf("%s.from[%d].source", at, i), whenPrincipals))
	}
	if len(rule.GetFrom()) == 0 {
		out.Principals = []*rbacpb.Principal{principalAnd(orAny(whenPrincipals, principalAny))}
	}
	for i, to := range rule.GetTo() {
		out.Permissions = append(out.Permissions, b.operation(to.GetOperation(), fmt.Sprintf("%s.to[%d].operation", at, i), whenPermissions))
	}
	if len(rule.GetTo()) == 0 {
		out.Permissions = []*rbacpb.Permission{permissionAnd(orAny(whenPermissions, permissionAny))}
	}
	return out
}

func orAny[T any](list []T, anything T) []T {
	if len(list) == 0 {
		return []T{anything}
	}
	return list
}

func (b *ruleBuilder) source(s *security.Source, at string, when []*rbacpb.Principal) *rbacpb.Principal {
	var and []*rbacpb.Principal
	td := b.ctx.trustDomain
	b.noteLiteralStars(at+".principals", s.GetPrincipals())
	b.noteLiteralStars(at+".notPrincipals", s.GetNotPrincipals())
	and = b.principalPair(and, at+".principals", at+".notPrincipals", s.GetPrincipals(), s.GetNotPrincipals(),
		func(v string) (*rbacpb.Principal, string) { return principalName(v, td), "" })
	and = b.principalPair(and, at+".requestPrincipals", at+".notRequestPrincipals", s.GetRequestPrincipals(), s.GetNotRequestPrincipals(), b.jwtPrincipal(requestPrincipal))
	and = b.principalPair(and, at+".serviceAccounts", at+".notServiceAccounts", s.GetServiceAccounts(), s.GetNotServiceAccounts(),
		func(v string) (*rbacpb.Principal, string) { return serviceAccountName(v, b.policyNamespace), "" })
	and = b.principalPair(and, at+".trustDomains", at+".notTrustDomains", s.GetTrustDomains(), s.GetNotTrustDomains(),
		func(v string) (*rbacpb.Principal, string) { return trustDomainName(v), "" })
	and = b.principalPair(and, at+".namespaces", at+".notNamespaces", s.GetNamespaces(), s.GetNotNamespaces(),
		func(v string) (*rbacpb.Principal, string) { return namespaceName(v), "" })
	and = b.principalPair(and, at+".remoteIpBlocks", at+".notRemoteIpBlocks", s.GetRemoteIpBlocks(), s.GetNotRemoteIpBlocks(),
		func(v string) (*rbacpb.Principal, string) { return ipPrincipal(v, true) })
	and = b.principalPair(and, at+".ipBlocks", at+".notIpBlocks", s.GetIpBlocks(), s.GetNotIpBlocks(),
		func(v string) (*rbacpb.Principal, string) { return ipPrincipal(v, false) })
	return principalAnd(orAny(append(and, when...), principalAny))
}

func (b *ruleBuilder) operation(o *security.Operation, at string, when []*rbacpb.Permission) *rbacpb.Permission {
	var and []*rbacpb.Permission
	for field, values := range map[string][]string{"hosts": o.GetHosts(), "notHosts": o.GetNotHosts(), "paths": o.GetPaths(), "notPaths": o.GetNotPaths()} {
		b.noteLiteralStars(at+"."+field, values)
	}
	and = b.permissionPair(and, at+".hosts", at+".notHosts", o.GetHosts(), o.GetNotHosts(),
		b.httpPermission(func(v string) *rbacpb.Permission { return headerPermission(headerMatch(":authority", v, true)) }))
	and = b.permissionPair(and, at+".methods", at+".notMethods", o.GetMethods(), o.GetNotMethods(),
		b.httpPermission(func(v string) *rbacpb.Permission { return headerPermission(headerMatch(":method", v, false)) }))
	and = b.permissionPair(and, at+".paths", at+".notPaths", o.GetPaths(), o.GetNotPaths(), b.path)
	and = b.permissionPair(and, at+".ports", at+".notPorts", o.GetPorts(), o.GetNotPorts(), portPermission)
	return permissionAnd(orAny(append(and, when...), permissionAny))
}

func (b *ruleBuilder) path(v string) (*rbacpb.Permission, string) {
	switch {
	case b.ctx.tcp:
		return nil, httpOnly
	case b.ctx.grpc && isPathTemplate(v):
		return nil, "gRPC-Go's RBAC cannot evaluate the path template " + v
	}
	return pathPermission(v), ""
}

// jwtPrincipal is a generator of a match on the request's verified token. gRPC-Go
// verifies no token and its RBAC never matches the metadata the token's claims are in: an
// ALLOW rule naming them is dropped and a DENY rule widened there, never evaluated as
// "no such principal".
func (b *ruleBuilder) jwtPrincipal(gen func(string) *rbacpb.Principal) principalGen {
	return func(v string) (*rbacpb.Principal, string) {
		switch {
		case b.ctx.tcp:
			return nil, httpOnly
		case b.ctx.grpc:
			return nil, noJWTInGRPC
		}
		return gen(v), ""
	}
}

const noJWTInGRPC = "gRPC-Go verifies no JWT (RequestAuthentication) and its RBAC never matches Envoy filter metadata"

func (b *ruleBuilder) httpPermission(gen func(string) *rbacpb.Permission) permissionGen {
	return func(v string) (*rbacpb.Permission, string) {
		if b.ctx.tcp {
			return nil, httpOnly
		}
		return gen(v), ""
	}
}

// whenPrincipal is the generator of a condition key about the source.
func (b *ruleBuilder) whenPrincipal(key string) (principalGen, bool) {
	td := b.ctx.trustDomain
	switch {
	case key == "source.ip":
		return func(v string) (*rbacpb.Principal, string) { return ipPrincipal(v, false) }, true
	case key == "remote.ip":
		return func(v string) (*rbacpb.Principal, string) { return ipPrincipal(v, true) }, true
	case key == "source.namespace":
		return func(v string) (*rbacpb.Principal, string) { return namespaceName(v), "" }, true
	case key == "source.principal":
		return func(v string) (*rbacpb.Principal, string) { return principalName(v, td), "" }, true
	case key == "source.serviceAccount":
		return func(v string) (*rbacpb.Principal, string) { return serviceAccountName(v, b.policyNamespace), "" }, true
	case key == "source.trustDomain":
		return func(v string) (*rbacpb.Principal, string) { return trustDomainName(v), "" }, true
	case key == "request.auth.principal":
		return b.jwtPrincipal(requestPrincipal), true
	case key == "request.auth.audiences":
		return b.jwtPrincipal(func(v string) *rbacpb.Principal { return jwtClaim([]string{"aud"}, stringMatch(v, "", false), true) }), true
	case key == "request.auth.presenter":
		return b.jwtPrincipal(func(v string) *rbacpb.Principal { return jwtClaim([]string{"azp"}, stringMatch(v, "", false), true) }), true
	case strings.HasPrefix(key, "request.auth.claims"):
		claims, ok := bracketed(strings.TrimPrefix(key, "request.auth.claims"))
		return func(v string) (*rbacpb.Principal, string) {
			switch {
			case !ok:
				return nil, "bad key " + key + ": should be request.auth.claims[name]"
			}
			return b.jwtPrincipal(func(v string) *rbacpb.Principal { return jwtClaim(claims, stringMatch(v, "", false), true) })(v)
		}, true
	case strings.HasPrefix(key, "request.headers"):
		names, ok := bracketed(strings.TrimPrefix(key, "request.headers"))
		return func(v string) (*rbacpb.Principal, string) {
			switch {
			case !ok || len(names) != 1:
				return nil, "bad key " + key + ": should be request.headers[name]"
			case b.ctx.tcp:
				return nil, httpOnly
			case b.ctx.grpc && grpcRejectsHeader(names[0]):
				return nil, "gRPC-Go's RBAC rejects a matcher on header " + names[0]
			}
			return &rbacpb.Principal{Identifier: &rbacpb.Principal_Header{Header: headerMatch(names[0], v, false)}}, ""
		}, true
	}
	return nil, false
}

// grpcRejectsHeader: gRPC-Go NACKs the whole listener for these (gRFC A41).
func grpcRejectsHeader(name string) bool {
	n := strings.ToLower(name)
	return n == ":scheme" || strings.HasPrefix(n, "grpc-")
}

// whenPermission is the generator of a condition key about the destination.
func (b *ruleBuilder) whenPermission(key string) (permissionGen, bool) {
	switch {
	case key == "destination.ip":
		return func(v string) (*rbacpb.Permission, string) {
			r, ok := cidrRange(v)
			if !ok {
				return nil, "bad IP address or CIDR block " + v
			}
			return &rbacpb.Permission{Rule: &rbacpb.Permission_DestinationIp{DestinationIp: r}}, ""
		}, true
	case key == "destination.port":
		return portPermission, true
	case key == "connection.sni":
		return func(v string) (*rbacpb.Permission, string) {
			return &rbacpb.Permission{Rule: &rbacpb.Permission_RequestedServerName{RequestedServerName: stringMatch(v, "", false)}}, ""
		}, true
	case strings.HasPrefix(key, "experimental.envoy.filters."):
		filter, rest, _ := strings.Cut(strings.TrimPrefix(key, "experimental."), "[")
		keys, ok := bracketed("[" + rest)
		return func(v string) (*rbacpb.Permission, string) {
			switch {
			case !ok || len(keys) != 1:
				return nil, "bad key " + key + ": should be experimental.envoy.filters.<filter>[key]"
			case b.ctx.grpc:
				return nil, "gRPC-Go's RBAC never matches Envoy filter metadata"
			}
			return envoyMetadataPermission(filter, keys[0], v), ""
		}, true
	}
	return nil, false
}
