package translate

import (
	"maps"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/validation"
)

// headerOps are the header changes of a route or of one destination.
type headerOps struct {
	requestAdd     []*corev3.HeaderValueOption
	requestRemove  []string
	responseAdd    []*corev3.HeaderValueOption
	responseRemove []string
	// authority is a new Host/:authority, which Envoy sets by host
	// rewriting rather than as a header.
	authority string
}

func (o headerOps) applyTo(r *routev3.Route) {
	r.RequestHeadersToAdd = append(r.RequestHeadersToAdd, o.requestAdd...)
	r.RequestHeadersToRemove = append(r.RequestHeadersToRemove, o.requestRemove...)
	r.ResponseHeadersToAdd = append(r.ResponseHeadersToAdd, o.responseAdd...)
	r.ResponseHeadersToRemove = append(r.ResponseHeadersToRemove, o.responseRemove...)
}

func (o headerOps) applyToCluster(c *routev3.WeightedCluster_ClusterWeight) {
	c.RequestHeadersToAdd = o.requestAdd
	c.RequestHeadersToRemove = o.requestRemove
	c.ResponseHeadersToAdd = o.responseAdd
	c.ResponseHeadersToRemove = o.responseRemove
	if o.authority != "" {
		c.HostRewriteSpecifier = &routev3.WeightedCluster_ClusterWeight_HostRewriteLiteral{HostRewriteLiteral: o.authority}
	}
}

// headerOperations translates Istio's headers section: set overwrites, add
// appends, remove deletes, in header-name order. Setting Host or
// :authority rewrites the host; other pseudo-headers cannot be changed and
// are reported. An invalid name or value leaves the route out.
func (rb *routeBuilder) headerOperations(h *networking.Headers, at origin) (headerOps, bool) {
	var ops headerOps
	if h == nil {
		return ops, true
	}
	var ok bool
	req, resp := h.GetRequest(), h.GetResponse()
	var setAuthority, addAuthority string
	if ops.requestAdd, setAuthority, ok = rb.headerValues(req.GetSet(), corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD, at.at(".request.set")); !ok {
		return ops, false
	}
	var added []*corev3.HeaderValueOption
	if added, addAuthority, ok = rb.headerValues(req.GetAdd(), corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD, at.at(".request.add")); !ok {
		return ops, false
	}
	ops.requestAdd = append(ops.requestAdd, added...)
	ops.authority = setAuthority
	if ops.authority == "" {
		ops.authority = addAuthority
	}
	if ops.responseAdd, _, ok = rb.headerValues(resp.GetSet(), corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD, at.at(".response.set")); !ok {
		return ops, false
	}
	if added, _, ok = rb.headerValues(resp.GetAdd(), corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD, at.at(".response.add")); !ok {
		return ops, false
	}
	ops.responseAdd = append(ops.responseAdd, added...)
	if ops.requestRemove, ok = rb.headerNames(req.GetRemove(), at.at(".request.remove")); !ok {
		return ops, false
	}
	if ops.responseRemove, ok = rb.headerNames(resp.GetRemove(), at.at(".response.remove")); !ok {
		return ops, false
	}
	return ops, true
}

func isAuthorityHeader(name string) bool {
	return strings.EqualFold(name, ":authority") || strings.EqualFold(name, "host")
}

func (rb *routeBuilder) headerValues(values map[string]string, action corev3.HeaderValueOption_HeaderAppendAction, at origin) ([]*corev3.HeaderValueOption, string, bool) {
	var out []*corev3.HeaderValueOption
	authority := ""
	for _, name := range slices.Sorted(maps.Keys(values)) {
		value := values[name]
		if err := validation.HeaderName(name); err != nil {
			rb.report(at.at("[%s]", name), "%v; the route is left out", err)
			return nil, "", false
		}
		if err := validation.HeaderValue(value); err != nil {
			rb.report(at.at("[%s]", name), "%v; the route is left out", err)
			return nil, "", false
		}
		switch {
		case isAuthorityHeader(name):
			authority = value
		case strings.HasPrefix(name, ":"):
			rb.report(at.at("[%s]", name), "pseudo-header %s cannot be changed; ignored", name)
		default:
			out = append(out, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: name, Value: value}, AppendAction: action})
		}
	}
	return out, authority, true
}

func (rb *routeBuilder) headerNames(names []string, at origin) ([]string, bool) {
	var out []string
	for i, name := range names {
		if err := validation.HeaderName(name); err != nil {
			rb.report(at.at("[%d]", i), "%v; the route is left out", err)
			return nil, false
		}
		if strings.HasPrefix(name, ":") || strings.EqualFold(name, "host") {
			rb.report(at.at("[%d]", i), "%s cannot be removed; ignored", name)
			continue
		}
		out = append(out, name)
	}
	return out, true
}
