package translate

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacpb "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	extauthzhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	extauthznetv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	rbacnetv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	meshconfig "istio.io/api/mesh/v1alpha1"
	security "istio.io/api/security/v1beta1"

	"loom.dev/loom/pkg/model"
)

// CUSTOM policies, as Istio translates them: an RBAC filter whose shadow
// rules are the CUSTOM rules records, in dynamic metadata, which request
// matched one; the ext_authz filter after it asks the authorizer only
// about those (filter_enabled_metadata). Both run before the AUDIT, DENY
// and ALLOW engines, so CUSTOM decides first.
const (
	extAuthzHTTPFilterName    = "envoy.filters.http.ext_authz"
	extAuthzNetworkFilterName = "envoy.filters.network.ext_authz"
	// extAuthzPolicyPrefix starts the name of every CUSTOM rule, which the
	// ext_authz filter matches in the shadow metadata.
	extAuthzPolicyPrefix = "istio-ext-authz"
	// extAuthzShadowPrefix prefixes the shadow rules' stats and metadata
	// keys, so that they cannot be confused with another RBAC filter's.
	extAuthzShadowPrefix = "istio_ext_authz_"
	// defaultExtAuthzTimeout is Istio's timeout of a check when the
	// provider sets none.
	defaultExtAuthzTimeout = 600
)

// customMode says what a workload's CUSTOM rules become in one context.
type customMode int

const (
	// customDeny: no usable authorizer, so the requests the rules match
	// are denied (istiod's behaviour for a bad CUSTOM policy).
	customDeny customMode = iota
	// customShadow: the rules mark the requests the authorizer checks.
	customShadow
	// customSkip: the provider cannot check this traffic (an HTTP
	// authorizer on TCP): the policy is not enforced, as in Istio.
	customSkip
)

// extAuthz is the resolved authorizer of one workload's CUSTOM policies.
type extAuthz struct {
	http *extauthzhttpv3.ExtAuthz
	tcp  *extauthznetv3.ExtAuthz // nil for an HTTP authorizer
}

// customAuthzFor resolves the authorizer of the CUSTOM policies applied to
// proxy p. It returns nil, with a problem per CUSTOM policy, when there is
// no usable one: the policies then fail closed. Istio requires every CUSTOM
// policy of a workload to name the same provider.
func customAuthzFor(snap *model.Snapshot, p model.Proxy, applied []model.AppliedAuthorizationPolicy) (*extAuthz, []model.Problem) {
	var custom []*model.AuthorizationPolicy
	var names []string
	for _, a := range applied {
		if a.Policy.Spec.GetAction() == security.AuthorizationPolicy_CUSTOM {
			custom = append(custom, a.Policy)
			names = append(names, a.Policy.Spec.GetProvider().GetName())
		}
	}
	if len(custom) == 0 {
		return nil, nil
	}
	fail := func(format string, args ...any) (*extAuthz, []model.Problem) {
		why := fmt.Sprintf(format, args...)
		var problems []model.Problem
		for _, ap := range custom {
			o := origin{kind: model.KindAuthorizationPolicy, meta: ap.Meta}
			problems = append(problems, o.at("spec.provider.name").problem(
				"%s: the requests this CUSTOM policy would send to its authorizer are denied (fail closed), as istiod does", why))
		}
		return nil, problems
	}
	if p.Kind == model.KindGRPC {
		return fail("proxyless gRPC servers cannot call an external authorizer (gRPC-Go has no ext_authz), so CUSTOM is not enforced there")
	}
	sorted := slices.Compact(slices.Sorted(slices.Values(names)))
	if len(sorted) > 1 {
		return fail("the CUSTOM policies of a workload must all name the same provider (Istio's rule), found %s", strings.Join(quoteAll(sorted), ", "))
	}
	name := sorted[0]
	ep := snap.ExtensionProvider(name)
	if ep == nil {
		return fail("provider %q is not in the mesh config's extensionProviders", name)
	}
	if err := CheckExtensionProvider(ep); err != nil {
		return fail("%v", err)
	}
	svc, port := extAuthzService(ep)
	host, cluster, err := resolveAuthorizer(servicesFor(snap, p), svc, port)
	if err != nil {
		return fail("provider %q: %v", name, err)
	}
	return buildExtAuthz(ep, host, cluster), nil
}

func quoteAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strconv.Quote(s)
	}
	return out
}

// extAuthzService is the service and port of either kind of provider.
func extAuthzService(ep *model.ExtensionProvider) (string, uint32) {
	if h := ep.GetEnvoyExtAuthzHttp(); h != nil {
		return h.GetService(), h.GetPort()
	}
	g := ep.GetEnvoyExtAuthzGrpc()
	return g.GetService(), g.GetPort()
}

// resolveAuthorizer finds the authorizer's service, "[<namespace>/]<host>",
// among the services the proxy has clusters for, and names the outbound
// cluster of its port.
func resolveAuthorizer(services []*model.Service, service string, port uint32) (host, cluster string, err error) {
	ns, host, qualified := strings.Cut(service, "/")
	if !qualified {
		ns, host = "", service
	}
	for _, svc := range services {
		if svc.Hostname != host || (ns != "" && svc.Namespace != ns) {
			continue
		}
		if _, ok := svc.Port(port); !ok {
			return "", "", fmt.Errorf("service %q has no port %d", service, port)
		}
		return host, ClusterName(Outbound, port, "", host), nil
	}
	return "", "", fmt.Errorf("service %q is not a service this proxy has a cluster for (unknown, not exported to it, or left out by its Sidecar)", service)
}

// CheckExtensionProvider checks a mesh config extension provider as
// istiod does before using it: a name, exactly one ext_authz kind, a
// "[<namespace>/]<host>" service, a port from 1 to 65535, a statusOnError
// Envoy knows, a pathPrefix starting with "/", and a filter config Envoy
// accepts.
func CheckExtensionProvider(ep *model.ExtensionProvider) error {
	if ep.GetName() == "" {
		return fmt.Errorf("extension provider: name is empty")
	}
	field := func(f string) string { return fmt.Sprintf("extension provider %q: %s", ep.GetName(), f) }
	var service, status string
	var port uint32
	switch {
	case ep.GetEnvoyExtAuthzHttp() != nil:
		h := ep.GetEnvoyExtAuthzHttp()
		service, port, status = h.GetService(), h.GetPort(), h.GetStatusOnError()
		if pp := h.GetPathPrefix(); pp != "" {
			if _, err := url.Parse(pp); err != nil || !strings.HasPrefix(pp, "/") {
				return fmt.Errorf("%s: %q is not a path starting with /", field("envoyExtAuthzHttp.pathPrefix"), pp)
			}
		}
	case ep.GetEnvoyExtAuthzGrpc() != nil:
		g := ep.GetEnvoyExtAuthzGrpc()
		service, port, status = g.GetService(), g.GetPort(), g.GetStatusOnError()
	default:
		return fmt.Errorf("%s: exactly one of envoyExtAuthzHttp and envoyExtAuthzGrpc must be set (Loom supports only these kinds)", field("kind"))
	}
	ns, host, qualified := strings.Cut(service, "/")
	if service == "" || strings.Contains(host, "/") || (qualified && (ns == "" || host == "")) || strings.Contains(service, "*") {
		return fmt.Errorf("%s: %q is not \"[<namespace>/]<hostname>\"", field("service"), service)
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("%s: %d is not from 1 to 65535", field("port"), port)
	}
	if _, err := statusOnError(status); err != nil {
		return fmt.Errorf("%s: %v", field("statusOnError"), err)
	}
	built := buildExtAuthz(ep, "authorizer.invalid", ClusterName(Outbound, port, "", "authorizer.invalid"))
	if err := built.http.ValidateAll(); err != nil {
		return fmt.Errorf("%s: not a valid Envoy ext_authz config: %v", field(""), err)
	}
	if built.tcp != nil {
		if err := built.tcp.ValidateAll(); err != nil {
			return fmt.Errorf("%s: not a valid Envoy ext_authz config: %v", field(""), err)
		}
	}
	return nil
}

func statusOnError(s string) (*typev3.HttpStatus, error) {
	if s == "" {
		return nil, nil
	}
	code, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%q is not a number", s)
	}
	if _, ok := typev3.StatusCode_name[int32(code)]; !ok || code == 0 {
		return nil, fmt.Errorf("%s is not an HTTP status Envoy can send", s)
	}
	return &typev3.HttpStatus{Code: typev3.StatusCode(code)}, nil
}

// buildExtAuthz is Istio's ext_authz config of a checked provider.
func buildExtAuthz(ep *model.ExtensionProvider, host, cluster string) *extAuthz {
	out := &extAuthz{}
	if h := ep.GetEnvoyExtAuthzHttp(); h != nil {
		status, _ := statusOnError(h.GetStatusOnError())
		service := &extauthzhttpv3.HttpService{
			PathPrefix: h.GetPathPrefix(),
			ServerUri: &corev3.HttpUri{
				Uri:              "http://" + host,
				HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: cluster},
				Timeout:          timeoutOrDefault(h.GetTimeout()),
			},
		}
		if add := additionalHeaders(h.GetIncludeAdditionalHeadersInCheck()); len(add) > 0 {
			service.AuthorizationRequest = &extauthzhttpv3.AuthorizationRequest{HeadersToAdd: add}
		}
		if len(h.GetHeadersToUpstreamOnAllow())+len(h.GetHeadersToDownstreamOnDeny())+len(h.GetHeadersToDownstreamOnAllow()) > 0 {
			service.AuthorizationResponse = &extauthzhttpv3.AuthorizationResponse{
				AllowedUpstreamHeaders:        headerMatchers(h.GetHeadersToUpstreamOnAllow()),
				AllowedClientHeaders:          headerMatchers(h.GetHeadersToDownstreamOnDeny()),
				AllowedClientHeadersOnSuccess: headerMatchers(h.GetHeadersToDownstreamOnAllow()),
			}
		}
		out.http = &extauthzhttpv3.ExtAuthz{
			StatusOnError:         status,
			FailureModeAllow:      h.GetFailOpen(),
			TransportApiVersion:   corev3.ApiVersion_V3,
			Services:              &extauthzhttpv3.ExtAuthz_HttpService{HttpService: service},
			FilterEnabledMetadata: extAuthzEnabled(rbacHTTPFilterName),
			WithRequestBody:       bufferSettings(h.GetIncludeRequestBodyInCheck()),
			AllowedHeaders:        headerMatchers(h.GetIncludeRequestHeadersInCheck()),
		}
		return out
	}
	g := ep.GetEnvoyExtAuthzGrpc()
	status, _ := statusOnError(g.GetStatusOnError())
	grpc := &corev3.GrpcService{
		TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: cluster, Authority: host}},
		Timeout:         timeoutOrDefault(g.GetTimeout()),
	}
	out.http = &extauthzhttpv3.ExtAuthz{
		StatusOnError:         status,
		FailureModeAllow:      g.GetFailOpen(),
		TransportApiVersion:   corev3.ApiVersion_V3,
		Services:              &extauthzhttpv3.ExtAuthz_GrpcService{GrpcService: grpc},
		FilterEnabledMetadata: extAuthzEnabled(rbacHTTPFilterName),
		WithRequestBody:       bufferSettings(g.GetIncludeRequestBodyInCheck()),
	}
	out.tcp = &extauthznetv3.ExtAuthz{
		StatPrefix:            "tcp.",
		GrpcService:           grpc,
		FailureModeAllow:      g.GetFailOpen(),
		TransportApiVersion:   corev3.ApiVersion_V3,
		FilterEnabledMetadata: extAuthzEnabled(rbacNetworkFilterName),
	}
	return out
}

func timeoutOrDefault(d *durationpb.Duration) *durationpb.Duration {
	if d == nil {
		return &durationpb.Duration{Seconds: defaultExtAuthzTimeout}
	}
	return d
}

func bufferSettings(b *meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationRequestBody) *extauthzhttpv3.BufferSettings {
	if b == nil {
		return nil
	}
	return &extauthzhttpv3.BufferSettings{MaxRequestBytes: b.GetMaxRequestBytes(), AllowPartialMessage: b.GetAllowPartialMessage(), PackAsBytes: b.GetPackAsBytes()}
}

// headerMatchers are Istio's header lists: case-insensitive, "abc*" a
// prefix and "*abc" a suffix.
func headerMatchers(headers []string) *matcherv3.ListStringMatcher {
	if len(headers) == 0 {
		return nil
	}
	out := &matcherv3.ListStringMatcher{}
	for _, h := range headers {
		m := &matcherv3.StringMatcher{IgnoreCase: true}
		switch {
		case strings.HasPrefix(h, "*"):
			m.MatchPattern = &matcherv3.StringMatcher_Suffix{Suffix: strings.TrimPrefix(h, "*")}
		case strings.HasSuffix(h, "*"):
			m.MatchPattern = &matcherv3.StringMatcher_Prefix{Prefix: strings.TrimSuffix(h, "*")}
		default:
			m.MatchPattern = &matcherv3.StringMatcher_Exact{Exact: h}
		}
		out.Patterns = append(out.Patterns, m)
	}
	return out
}

func additionalHeaders(headers map[string]string) []*corev3.HeaderValue {
	var out []*corev3.HeaderValue
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		out = append(out, &corev3.HeaderValue{Key: k, Value: headers[k]})
	}
	return out
}

// extAuthzEnabled turns the ext_authz filter on for requests (or
// connections) whose CUSTOM shadow rules matched: the RBAC filter stores
// the matched rule's name under the filter's canonical name.
func extAuthzEnabled(rbacFilter string) *matcherv3.MetadataMatcher {
	return &matcherv3.MetadataMatcher{
		Filter: rbacFilter,
		Path: []*matcherv3.MetadataMatcher_PathSegment{{
			Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: extAuthzShadowPrefix + "shadow_effective_policy_id"},
		}},
		Value: &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_StringMatch{
			StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: extAuthzPolicyPrefix}},
		}},
	}
}

// httpFilters are the CUSTOM filters of an HTTP connection manager: the
// shadow RBAC filter, then ext_authz; none without CUSTOM rules.
func (e *extAuthz) httpFilters(shadow *rbacpb.RBAC) []*hcmv3.HttpFilter {
	if e == nil || shadow == nil {
		return nil
	}
	return []*hcmv3.HttpFilter{
		httpFilter(rbacHTTPFilterName+".custom", anyOf(&rbachttpv3.RBAC{ShadowRules: shadow, ShadowRulesStatPrefix: extAuthzShadowPrefix})),
		httpFilter(extAuthzHTTPFilterName, anyOf(e.http)),
	}
}

// networkFilters are the CUSTOM filters of a TCP chain; only a gRPC
// authorizer can check connections.
func (e *extAuthz) networkFilters(shadow *rbacpb.RBAC) []*listenerv3.Filter {
	if e == nil || e.tcp == nil || shadow == nil {
		return nil
	}
	return []*listenerv3.Filter{
		networkFilter(rbacNetworkFilterName+".custom", &rbacnetv3.RBAC{StatPrefix: "tcp.", ShadowRules: shadow, ShadowRulesStatPrefix: extAuthzShadowPrefix}),
		networkFilter(extAuthzNetworkFilterName, e.tcp),
	}
}

// customModes are what the CUSTOM rules become on HTTP and on TCP.
func (e *extAuthz) customModes() (http, tcp customMode) {
	switch {
	case e == nil:
		return customDeny, customDeny
	case e.tcp == nil:
		return customShadow, customSkip
	}
	return customShadow, customShadow
}
