package model

import (
	"fmt"
	"maps"
	"strings"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
)

// ResolvedHTTPRoute is one entry of a VirtualService's http section after
// delegation.
type ResolvedHTTPRoute struct {
	Route *networking.HTTPRoute
	// Owner is the VirtualService that wrote Route (the delegate, for a
	// delegated route): short hosts in Route resolve in its namespace and
	// problems name it.
	Owner *VirtualService
	// Field is Route's path in Owner, e.g. "spec.http[2]".
	Field string
	// DelegatedBy names the root route that delegated to Owner, e.g.
	// "web/root spec.http[0]"; empty for a route of the root itself.
	DelegatedBy string
}

// HTTPRoutes returns the http routes of vs in order, with every route that
// delegates replaced by the routes of its delegate merged with it, as Istio
// does: each delegate match must narrow one of the root's matches (routes
// whose matches all conflict with the root's are dropped), and fields the
// delegate route leaves empty are taken from the root route. Only one level
// of delegation exists. Missing delegates, delegates not exported to the
// root's namespace and nested delegation are reported; the routes involved
// are left out.
func (s *Snapshot) HTTPRoutes(vs *BoundVirtualService) ([]ResolvedHTTPRoute, []Problem) {
	var out []ResolvedHTTPRoute
	var problems []Problem
	for i, root := range vs.Spec.GetHttp() {
		field := fmt.Sprintf("spec.http[%d]", i)
		d := root.GetDelegate()
		if d == nil {
			out = append(out, ResolvedHTTPRoute{Route: root, Owner: vs.VirtualService, Field: field})
			continue
		}
		ns := d.GetNamespace()
		if ns == "" {
			ns = vs.Namespace
		}
		delegate := s.Delegate(d.GetName(), ns)
		switch {
		case delegate == nil:
			problems = append(problems, Problem{Kind: kindVirtualService, Meta: vs.Meta, Field: field + ".delegate",
				Message: fmt.Sprintf("delegate VirtualService %s/%s does not exist (or has hosts)", ns, d.GetName())})
			continue
		case !delegate.ExportTo.VisibleTo(vs.Namespace):
			problems = append(problems, Problem{Kind: kindVirtualService, Meta: vs.Meta, Field: field + ".delegate",
				Message: fmt.Sprintf("delegate VirtualService %s/%s is not exported to namespace %s", ns, d.GetName(), vs.Namespace)})
			continue
		}
		if len(root.GetRoute()) > 0 || root.GetRedirect() != nil {
			problems = append(problems, Problem{Kind: kindVirtualService, Meta: vs.Meta, Field: field,
				Message: "a route with delegate must not set route or redirect; they are ignored"})
		}
		by := vs.Meta.String() + " " + field
		for j, leaf := range delegate.Spec.GetHttp() {
			leafField := fmt.Sprintf("spec.http[%d]", j)
			if leaf.GetDelegate() != nil {
				problems = append(problems, Problem{Kind: kindVirtualService, Meta: delegate.Meta, Field: leafField + ".delegate",
					Message: "a delegate VirtualService cannot delegate further; the route is ignored"})
				continue
			}
			merged, ok := mergeDelegatedRoute(root, vs.Namespace, leaf, delegate.Namespace, s.domainSuffix)
			if !ok {
				continue
			}
			out = append(out, ResolvedHTTPRoute{Route: merged, Owner: delegate.VirtualService, Field: leafField, DelegatedBy: by})
		}
	}
	return out, problems
}

// mergeDelegatedRoute narrows a delegate's route by the root route that
// delegates to it. Names the root wrote are resolved in the root's
// namespace first, since the result is read in the delegate's.
func mergeDelegatedRoute(root *networking.HTTPRoute, rootNS string, leaf *networking.HTTPRoute, leafNS, domainSuffix string) (*networking.HTTPRoute, bool) {
	matches, ok := mergeMatches(root.GetMatch(), rootNS, leaf.GetMatch(), leafNS)
	if !ok {
		return nil, false
	}
	out := proto.Clone(leaf).(*networking.HTTPRoute)
	out.Match = matches
	switch {
	case out.Name == "":
		out.Name = root.GetName()
	case root.GetName() != "":
		out.Name = root.GetName() + "-" + out.Name
	}
	inherit(&out.Rewrite, root.GetRewrite())
	inherit(&out.DirectResponse, root.GetDirectResponse())
	inherit(&out.Timeout, root.GetTimeout())
	inherit(&out.Retries, root.GetRetries())
	inherit(&out.Fault, root.GetFault())
	inherit(&out.CorsPolicy, root.GetCorsPolicy())
	inherit(&out.Headers, root.GetHeaders())
	inherit(&out.MirrorPercentage, root.GetMirrorPercentage())
	//nolint:staticcheck // MirrorPercent is deprecated but users still write it.
	inherit(&out.MirrorPercent, root.GetMirrorPercent())
	if out.Mirror == nil && root.GetMirror() != nil {
		out.Mirror = proto.Clone(root.GetMirror()).(*networking.Destination)
		out.Mirror.Host = ResolveHost(out.Mirror.Host, rootNS, domainSuffix)
	}
	if len(out.Mirrors) == 0 {
		for _, m := range root.GetMirrors() {
			c := proto.Clone(m).(*networking.HTTPMirrorPolicy)
			if c.Destination != nil {
				c.Destination.Host = ResolveHost(c.Destination.Host, rootNS, domainSuffix)
			}
			out.Mirrors = append(out.Mirrors, c)
		}
	}
	return out, true
}

// inherit fills a field the delegate left unset with the root's value.
func inherit[T any](dst **T, from *T) {
	if *dst == nil {
		*dst = from
	}
}

// mergeMatches returns, for each delegate match, its merge with every root
// match it does not conflict with. A delegate match that narrows none of
// the root's makes the whole delegate route conflict, as in Istio.
func mergeMatches(root []*networking.HTTPMatchRequest, rootNS string, leaf []*networking.HTTPMatchRequest, leafNS string) ([]*networking.HTTPMatchRequest, bool) {
	switch {
	case len(root) == 0:
		return resolveMatchGateways(leaf, leafNS), true
	case len(leaf) == 0:
		return resolveMatchGateways(root, rootNS), true
	}
	var out []*networking.HTTPMatchRequest
	for _, l := range resolveMatchGateways(leaf, leafNS) {
		found := false
		for _, r := range resolveMatchGateways(root, rootNS) {
			if matchesConflict(r, l) {
				continue
			}
			out = append(out, mergeMatch(r, l))
			found = true
		}
		if !found {
			return nil, false
		}
	}
	return out, len(out) > 0
}

func resolveMatchGateways(matches []*networking.HTTPMatchRequest, ns string) []*networking.HTTPMatchRequest {
	out := make([]*networking.HTTPMatchRequest, 0, len(matches))
	for _, m := range matches {
		if len(m.GetGateways()) > 0 {
			m = proto.Clone(m).(*networking.HTTPMatchRequest)
			for i, g := range m.Gateways {
				m.Gateways[i] = ResolveGatewayName(g, ns)
			}
		}
		out = append(out, m)
	}
	return out
}

func mergeMatch(root, leaf *networking.HTTPMatchRequest) *networking.HTTPMatchRequest {
	out := proto.Clone(leaf).(*networking.HTTPMatchRequest)
	switch {
	case out.Name == "":
		out.Name = root.GetName()
	case root.GetName() != "":
		out.Name = root.GetName() + "-" + out.Name
	}
	inherit(&out.Uri, root.GetUri())
	inherit(&out.Scheme, root.GetScheme())
	inherit(&out.Method, root.GetMethod())
	inherit(&out.Authority, root.GetAuthority())
	out.Headers = mergedMap(root.GetHeaders(), out.Headers)
	out.WithoutHeaders = mergedMap(root.GetWithoutHeaders(), out.WithoutHeaders)
	out.QueryParams = mergedMap(root.GetQueryParams(), out.QueryParams)
	out.SourceLabels = mergedMap(root.GetSourceLabels(), out.SourceLabels)
	if out.Port == 0 {
		out.Port = root.GetPort()
	}
	if out.SourceNamespace == "" {
		out.SourceNamespace = root.GetSourceNamespace()
	}
	if len(out.Gateways) == 0 {
		out.Gateways = root.GetGateways()
	}
	if out.StatPrefix == "" {
		out.StatPrefix = root.GetStatPrefix()
	}
	return out
}

// mergedMap returns root's entries overridden by leaf's.
func mergedMap[V any](root, leaf map[string]V) map[string]V {
	if len(root) == 0 {
		return leaf
	}
	out := maps.Clone(root)
	maps.Copy(out, leaf)
	return out
}

// matchesConflict reports whether a delegate match can match something the
// root match does not allow.
func matchesConflict(root, leaf *networking.HTTPMatchRequest) bool {
	pairs := [][2]*networking.StringMatch{
		{root.GetUri(), leaf.GetUri()}, {root.GetScheme(), leaf.GetScheme()},
		{root.GetMethod(), leaf.GetMethod()}, {root.GetAuthority(), leaf.GetAuthority()},
	}
	for _, p := range pairs {
		if stringMatchConflict(p[0], p[1]) {
			return true
		}
	}
	for k, v := range leaf.GetHeaders() {
		if stringMatchConflict(root.GetHeaders()[k], v) {
			return true
		}
	}
	for k, v := range leaf.GetWithoutHeaders() {
		if stringMatchConflict(root.GetWithoutHeaders()[k], v) {
			return true
		}
	}
	for k, v := range leaf.GetQueryParams() {
		if stringMatchConflict(root.GetQueryParams()[k], v) {
			return true
		}
	}
	switch {
	case root.GetIgnoreUriCase() != leaf.GetIgnoreUriCase():
		return true
	case root.GetPort() > 0 && leaf.GetPort() > 0 && root.GetPort() != leaf.GetPort():
		return true
	case root.GetSourceNamespace() != "" && leaf.GetSourceNamespace() != root.GetSourceNamespace():
		return true
	}
	for k, v := range leaf.GetSourceLabels() {
		if rv, ok := root.GetSourceLabels()[k]; ok && rv != v {
			return true
		}
	}
	if len(root.GetGateways()) > 0 {
		for _, g := range leaf.GetGateways() {
			if !containsString(root.GetGateways(), g) {
				return true
			}
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// stringMatchConflict: a regex on either side conflicts with any other
// matcher; an exact root admits only the same exact; a prefix root admits
// exacts and prefixes under it.
func stringMatchConflict(root, leaf *networking.StringMatch) bool {
	if root.GetMatchType() == nil || leaf.GetMatchType() == nil {
		return false
	}
	if root.GetRegex() != "" || leaf.GetRegex() != "" {
		return true
	}
	if exact := root.GetExact(); exact != "" {
		return leaf.GetExact() != exact
	}
	if prefix := root.GetPrefix(); prefix != "" {
		if p := leaf.GetPrefix(); p != "" {
			return !strings.HasPrefix(p, prefix)
		}
		if e := leaf.GetExact(); e != "" {
			return !strings.HasPrefix(e, prefix)
		}
	}
	return true
}
