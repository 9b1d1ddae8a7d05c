package validation

import (
	"maps"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func httpRoute(r *Result, at *field.Path, h *networking.HTTPRoute, inDelegate, onGateway bool) {
	if !httpRouteShape(r, at, h, inDelegate) {
		return
	}
	for i, m := range h.GetMatch() {
		httpMatch(r, at.Child("match").Index(i), m, onGateway)
	}
	headerOperations(r, at.Child("headers"), h.GetHeaders())
	if authorityRewrites(h.GetRewrite(), h.GetHeaders()) > 1 {
		r.errorf(at, "the authority is rewritten more than once (rewrite.authority, headers.request set/add of :authority or host)")
	}
	corsPolicy(r, at.Child("corsPolicy"), h.GetCorsPolicy())
	fault(r, at.Child("fault"), h.GetFault())
	mirrors(r, at, h)
	redirect(r, at.Child("redirect"), h.GetRedirect(), h.GetMatch())
	directResponse(r, at.Child("directResponse"), h.GetDirectResponse())
	retries(r, at.Child("retries"), h.GetRetries())
	rewrite(r, at.Child("rewrite"), h.GetRewrite())
	httpDestinations(r, at.Child("route"), h.GetRoute())
	if h.GetTimeout() != nil {
		istioDuration(r, at.Child("timeout"), h.GetTimeout())
	}
}

// httpRouteShape checks which actions a rule combines; false for a root rule (one that
// delegates), whose other fields Istio does not look at.
func httpRouteShape(r *Result, at *field.Path, h *networking.HTTPRoute, inDelegate bool) bool {
	if h.GetDelegate() != nil && !inDelegate {
		if h.GetRedirect() != nil {
			r.errorf(at.Child("redirect"), "a rule that delegates cannot redirect")
		}
		if h.GetRoute() != nil {
			r.errorf(at.Child("route"), "a rule that delegates cannot route")
		}
		return false
	}
	if h.GetDelegate() != nil {
		r.errorf(at.Child("delegate"), "a delegate VirtualService cannot delegate again")
	}
	switch {
	case h.GetRedirect() != nil:
		conflicts(r, at, "redirect", h.GetRoute() != nil, h.GetFault() != nil, h.GetRewrite() != nil, h.GetDirectResponse() != nil)
	case h.GetDirectResponse() != nil:
		conflicts(r, at, "directResponse", h.GetRoute() != nil, h.GetFault() != nil, h.GetRewrite() != nil, false)
	case len(h.GetRoute()) == 0:
		r.errorf(at.Child("route"), "a rule needs a route, a redirect or a directResponse")
	}
	if h.GetMirror() != nil && len(h.GetMirrors()) > 0 {
		r.errorf(at.Child("mirrors"), "mirror and mirrors cannot both be set")
	}
	return true
}

func conflicts(r *Result, at *field.Path, action string, route, fault, rewrite, direct bool) {
	for _, c := range []struct {
		set   bool
		field string
	}{{route, "route"}, {fault, "fault"}, {rewrite, "rewrite"}, {direct, "directResponse"}} {
		if c.set {
			r.errorf(at.Child(c.field), "cannot be combined with %s", action)
		}
	}
}

func httpMatch(r *Result, at *field.Path, m *networking.HTTPMatchRequest, onGateway bool) {
	if uri := m.GetUri(); uri.GetMatchType() != nil {
		if re, ok := uri.GetMatchType().(*networking.StringMatch_Regex); ok {
			istioRegex(r, at.Child("uri", "regex"), re.Regex)
		} else if uri.GetExact() == "" && uri.GetPrefix() == "" {
			r.warnf(at.Child("uri"), "empty match; Loom leaves the route out")
		}
	}
	for _, h := range []struct {
		field  string
		values map[string]*networking.StringMatch
	}{{"headers", m.GetHeaders()}, {"withoutHeaders", m.GetWithoutHeaders()}} {
		for _, name := range slices.Sorted(maps.Keys(h.values)) {
			hat := at.Child(h.field).Key(name)
			if strings.HasPrefix(name, jwtClaimPrefix) {
				if !onGateway {
					r.errorf(hat, "JWT claim routing (%s) is only supported on gateways", name)
				} else {
					r.warnf(hat, "Loom does not support JWT claim routing (%s); the route is left out", name)
				}
				continue
			}
			r.check(hat, matchHeaderName(name))
			stringMatch(r, hat, h.values[name])
		}
	}
	stringMatch(r, at.Child("scheme"), m.GetScheme())
	stringMatch(r, at.Child("method"), m.GetMethod())
	stringMatch(r, at.Child("authority"), m.GetAuthority())
	for _, name := range slices.Sorted(maps.Keys(m.GetQueryParams())) {
		if name == "" {
			r.errorf(at.Child("queryParams").Key(name), "empty query parameter name")
		}
		stringMatch(r, at.Child("queryParams").Key(name), m.GetQueryParams()[name])
	}
	if m.GetPort() != 0 {
		r.check(at.Child("port"), port(int64(m.GetPort())))
	}
	checkLabels(r, at.Child("sourceLabels"), m.GetSourceLabels())
	gatewayNames(r, at.Child("gateways"), m.GetGateways())
	if ns := m.GetSourceNamespace(); ns != "" && !isIstioDNSLabel(ns) {
		r.errorf(at.Child("sourceNamespace"), "%q is not a namespace name", ns)
	}
}

// stringMatch is the shared StringMatch check plus Istio's regex length cap.
func stringMatch(r *Result, at *field.Path, m *networking.StringMatch) {
	if m == nil {
		return
	}
	if re := m.GetRegex(); re != "" && re != "*" {
		istioRegex(r, at, re)
		return
	}
	r.check(at, StringMatch(m))
}

// istioRegex is the shared Regex check plus Istio's cap: RE2 programs larger than Envoy's
// limit are refused, and Istio approximates the program size by the length.
func istioRegex(r *Result, at *field.Path, re string) {
	if err := Regex(re); err != nil {
		r.errorf(at, "%v", err)
		return
	}
	if len(re) > 1024 {
		r.errorf(at, "regular expression of %d characters; at most 1024 are allowed", len(re))
	}
}

func httpDestinations(r *Result, at *field.Path, dests []*networking.HTTPRouteDestination) {
	weights := make([]int32, len(dests))
	for i, d := range dests {
		weights[i] = d.GetWeight()
		if d.GetDestination() == nil {
			r.errorf(at.Index(i).Child("destination"), "required")
		}
		destination(r, at.Index(i).Child("destination"), d.GetDestination())
		headerOperations(r, at.Index(i).Child("headers"), d.GetHeaders())
	}
	checkWeights(r, at, weights)
}
