package translate

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/validation"
)

// forward makes r forward to the HTTPRoute's destinations, with its
// timeout, rewrites, mirrors, retries and the destinations' hash keys.
// authority is the host set through the route's headers section.
func (rb *routeBuilder) forward(r *routev3.Route, http *networking.HTTPRoute, authority string, at origin) bool {
	action := &routev3.RouteAction{}
	if !rb.setTimeout(action, http.GetTimeout(), at.at(".timeout")) {
		return false
	}
	if rw := http.GetRewrite(); rw != nil {
		if !rb.rewrite(action, rw, at.at(".rewrite")) {
			return false
		}
		if rw.GetAuthority() != "" {
			authority = rw.GetAuthority()
		}
	}
	if authority != "" {
		action.HostRewriteSpecifier = &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: authority}
	}
	dests, ok := rb.setDestinations(r, action, http, at)
	if !ok {
		return false
	}
	action.HashPolicy = rb.hashPolicies(dests)
	if !rb.setMirrors(action, http, at) {
		return false
	}
	// As in Istio, only a single destination's consistent hash keeps
	// retries off the previous_hosts predicate.
	consistentHash := len(http.GetRoute()) == 1 && len(action.HashPolicy) > 0
	retry, ok := rb.retryPolicy(http.GetRetries(), consistentHash, at.at(".retries"))
	if !ok {
		return false
	}
	action.RetryPolicy = retry
	r.Action = &routev3.Route_Route{Route: action}
	return true
}

// setTimeout sets the route timeout: the VirtualService's (0s disables
// it), else the mesh config's defaultTimeout, else none, as in Istio.
// gRPC-Go ignores RouteAction.timeout and reads max_stream_duration
// instead, so that carries the same value, the default included; Envoy
// also caps grpc-timeout headers at it (0: uncapped).
func (rb *routeBuilder) setTimeout(action *routev3.RouteAction, t *durationpb.Duration, at origin) bool {
	if err := validation.Duration(t); err != nil {
		rb.report(at, "%v; the route is left out", err)
		return false
	}
	if t == nil {
		t = rb.defaults.timeout
	}
	if t == nil {
		t = durationpb.New(0)
	}
	action.Timeout = t
	action.MaxStreamDuration = &routev3.RouteAction_MaxStreamDuration{MaxStreamDuration: t}
	if !rb.grpc() {
		// gRPC-Go would prefer this field over max_stream_duration.
		action.MaxStreamDuration.GrpcTimeoutHeaderMax = t
	}
	return true
}

// rewrite applies the path rewrite: uri replaces the matched prefix (the
// whole path for exact matches), uriRegexRewrite substitutes by regex.
func (rb *routeBuilder) rewrite(action *routev3.RouteAction, rw *networking.HTTPRewrite, at origin) bool {
	switch re := rw.GetUriRegexRewrite(); {
	case re != nil && rw.GetUri() != "":
		rb.report(at, "uri and uriRegexRewrite cannot both be set; the route is left out")
		return false
	case re != nil:
		if err := validation.Regex(re.GetMatch()); err != nil {
			rb.report(at.at(".uriRegexRewrite.match"), "%v; the route is left out", err)
			return false
		}
		action.RegexRewrite = &matcherv3.RegexMatchAndSubstitute{
			Pattern:      &matcherv3.RegexMatcher{Regex: re.GetMatch()},
			Substitution: re.GetRewrite(),
		}
	case rw.GetUri() != "":
		action.PrefixRewrite = rw.GetUri()
	}
	return true
}

// setMirrors adds a request mirror for mirror (with mirrorPercentage, or
// the older mirrorPercent, default 100%) and for each of mirrors. A mirror
// at 0% is left out.
func (rb *routeBuilder) setMirrors(action *routev3.RouteAction, http *networking.HTTPRoute, at origin) bool {
	if m := http.GetMirror(); m != nil {
		frac, ok := rb.mirrorFraction(http, at)
		if !ok {
			return false
		}
		if frac != nil && !rb.addMirror(action, m, frac, at.at(".mirror")) {
			return false
		}
	}
	for i, m := range http.GetMirrors() {
		mat := at.at(".mirrors[%d]", i)
		if err := validation.Percent(m.GetPercentage()); err != nil {
			rb.report(mat.at(".percentage"), "%v; the route is left out", err)
			return false
		}
		frac := percentFraction(m.GetPercentage(), 100)
		if frac != nil && !rb.addMirror(action, m.GetDestination(), frac, mat.at(".destination")) {
			return false
		}
	}
	return true
}

func (rb *routeBuilder) mirrorFraction(http *networking.HTTPRoute, at origin) (*typev3.FractionalPercent, bool) {
	if p := http.GetMirrorPercentage(); p != nil {
		if err := validation.Percent(p); err != nil {
			rb.report(at.at(".mirrorPercentage"), "%v; the route is left out", err)
			return nil, false
		}
		return percentFraction(p, 100), true
	}
	//nolint:staticcheck // mirrorPercent is deprecated but users still write it.
	if p := http.GetMirrorPercent(); p != nil {
		if p.GetValue() > 100 {
			rb.report(at.at(".mirrorPercent"), "%d is not a percentage; the route is left out", p.GetValue())
			return nil, false
		}
		if p.GetValue() == 0 {
			return nil, true
		}
		return &typev3.FractionalPercent{Numerator: p.GetValue(), Denominator: typev3.FractionalPercent_HUNDRED}, true
	}
	return percentFraction(nil, 100), true
}

func (rb *routeBuilder) addMirror(action *routev3.RouteAction, d *networking.Destination, frac *typev3.FractionalPercent, at origin) bool {
	dst, ok := rb.resolveDestination(d, at)
	if !ok {
		return false
	}
	action.RequestMirrorPolicies = append(action.RequestMirrorPolicies, &routev3.RouteAction_RequestMirrorPolicy{
		Cluster:         dst.cluster,
		RuntimeFraction: &corev3.RuntimeFractionalPercent{DefaultValue: frac},
		TraceSampled:    wrapperspb.Bool(false),
	})
	return true
}

// percentFraction converts a checked Istio percentage, or def when unset,
// to parts per million; nil means 0%.
func percentFraction(p *networking.Percent, def float64) *typev3.FractionalPercent {
	v := def
	if p != nil {
		v = p.GetValue()
	}
	if v <= 0 {
		return nil
	}
	return &typev3.FractionalPercent{Numerator: uint32(v * 10000), Denominator: typev3.FractionalPercent_MILLION}
}
