package validation

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var corsMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"}

func corsPolicy(r *Result, at *field.Path, c *networking.CorsPolicy) {
	if c == nil {
		return
	}
	for i, o := range c.GetAllowOrigins() {
		oat := at.Child("allowOrigins").Index(i)
		if o.GetMatchType() == nil || o.GetRegex() == "*" || o.GetExact()+o.GetPrefix()+o.GetRegex() == "" {
			r.errorf(oat, "not a valid exact, prefix or regex match")
			continue
		}
		stringMatch(r, oat, o)
	}
	for i, m := range c.GetAllowMethods() {
		if !slices.Contains(corsMethods, m) {
			r.errorf(at.Child("allowMethods").Index(i), "%q is not an HTTP method", m)
		}
	}
	for _, list := range []struct {
		field string
		names []string
	}{{"allowHeaders", c.GetAllowHeaders()}, {"exposeHeaders", c.GetExposeHeaders()}} {
		for i, name := range list.names {
			if name != "*" {
				r.check(at.Child(list.field).Index(i), HeaderName(name))
			}
		}
	}
	if m := c.GetMaxAge(); m != nil {
		istioDuration(r, at.Child("maxAge"), m)
		if m.GetNanos() > 0 {
			r.errorf(at.Child("maxAge"), "only whole seconds are supported")
		}
	}
}

// grpcStatuses are the codes Istio accepts for a gRPC abort.
var grpcStatuses = []string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

func fault(r *Result, at *field.Path, f *networking.HTTPFaultInjection) {
	if f == nil {
		return
	}
	if f.GetAbort() == nil && f.GetDelay() == nil {
		r.errorf(at, "a fault needs an abort, a delay or both")
	}
	if a := f.GetAbort(); a != nil {
		aat := at.Child("abort")
		faultPercentage(r, aat.Child("percentage"), a.GetPercentage())
		switch e := a.GetErrorType().(type) {
		case *networking.HTTPFaultInjection_Abort_GrpcStatus:
			if !slices.Contains(grpcStatuses, e.GrpcStatus) {
				r.errorf(aat.Child("grpcStatus"), "%q is not a gRPC status name (such as NOT_FOUND)", e.GrpcStatus)
			}
		case *networking.HTTPFaultInjection_Abort_Http2Error:
			r.errorf(aat.Child("http2Error"), "HTTP/2 abort fault injection is not supported")
		case *networking.HTTPFaultInjection_Abort_HttpStatus:
			httpStatus(r, aat.Child("httpStatus"), e.HttpStatus)
		default:
			r.warnf(aat, "abort configured without an error type")
		}
	}
	if d := f.GetDelay(); d != nil {
		dat := at.Child("delay")
		faultPercentage(r, dat.Child("percentage"), d.GetPercentage())
		switch {
		case d.GetFixedDelay() != nil:
			positiveDuration(r, dat.Child("fixedDelay"), d.GetFixedDelay())
		case d.GetExponentialDelay() != nil:
			r.errorf(dat.Child("exponentialDelay"), "exponentialDelay is not supported")
		}
	}
}

// faultPercentage is the shared Percent check plus Istio's floor: 0, or at least 0.0001.
func faultPercentage(r *Result, at *field.Path, p *networking.Percent) {
	if err := Percent(p); err != nil {
		r.errorf(at, "%v", err)
	} else if v := p.GetValue(); v > 0 && v < 0.0001 {
		r.errorf(at, "%v is neither 0 nor at least 0.0001", v)
	}
}

func httpStatus(r *Result, at *field.Path, status int32) {
	if status < 200 || status > 600 {
		r.errorf(at, "HTTP status %d is not in 200..600", status)
	}
}

func mirrors(r *Result, at *field.Path, h *networking.HTTPRoute) {
	//nolint:staticcheck // mirrorPercent is deprecated but users still write it.
	if p := h.GetMirrorPercent(); p != nil {
		if p.GetValue() > 100 {
			r.errorf(at.Child("mirrorPercent"), "%d is more than 100", p.GetValue())
		}
		r.warnf(at.Child("mirrorPercent"), "deprecated: use mirrorPercentage")
	}
	r.check(at.Child("mirrorPercentage"), Percent(h.GetMirrorPercentage()))
	destination(r, at.Child("mirror"), h.GetMirror())
	for i, m := range h.GetMirrors() {
		mat := at.Child("mirrors").Index(i)
		if m.GetDestination() == nil {
			r.errorf(mat.Child("destination"), "required")
		}
		destination(r, mat.Child("destination"), m.GetDestination())
		r.check(mat.Child("percentage"), Percent(m.GetPercentage()))
	}
}

func redirect(r *Result, at *field.Path, rd *networking.HTTPRedirect, matches []*networking.HTTPMatchRequest) {
	if rd == nil {
		return
	}
	if rd.GetUri() != "" && rd.GetPrefixRewrite() != "" {
		r.errorf(at, "uri and prefixRewrite cannot both be set")
	}
	if rd.GetPrefixRewrite() != "" {
		for i, m := range matches {
			if m.GetUri() != nil && m.GetUri().GetPrefix() == "" {
				r.errorf(at.Child("prefixRewrite"), "needs every uri match to be a prefix match, and match[%d] is not", i)
			}
		}
	}
	if rd.GetUri() == "" && rd.GetPrefixRewrite() == "" && rd.GetAuthority() == "" && rd.GetRedirectPort() == nil && rd.GetScheme() == "" {
		r.errorf(at, "a redirect needs a uri, prefixRewrite, authority, scheme or port")
	}
	if c := rd.GetRedirectCode(); c != 0 && (c < 300 || c > 399) {
		r.errorf(at.Child("redirectCode"), "%d is not a 3xx code", c)
	}
	if s := rd.GetScheme(); s != "" && s != "http" && s != "https" {
		r.errorf(at.Child("scheme"), "%q is neither http nor https", s)
	}
	if p := rd.GetPort(); p > 0 {
		r.check(at.Child("port"), port(int64(p)))
	}
}

func directResponse(r *Result, at *field.Path, d *networking.HTTPDirectResponse) {
	if d == nil {
		return
	}
	size := len(d.GetBody().GetString_()) + len(d.GetBody().GetBytes())
	switch {
	case size > 1<<20:
		r.errorf(at.Child("body"), "%d bytes; a direct response body must be smaller than 1MB", size)
	case size > 100<<10:
		r.warnf(at.Child("body"), "%d bytes; large direct responses slow the control plane down", size)
	}
	httpStatus(r, at.Child("status"), int32(min(d.GetStatus(), 1<<30)))
}

var retryOnPolicies = []string{"5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx",
	"refused-stream", "retriable-status-codes", "retriable-headers", "envoy-ratelimited", "http3-post-connect-failure",
	"cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"}

func retries(r *Result, at *field.Path, rt *networking.HTTPRetry) {
	if rt == nil {
		return
	}
	if rt.GetAttempts() < 0 {
		r.errorf(at.Child("attempts"), "must not be negative")
	}
	if rt.GetAttempts() == 0 && (rt.GetPerTryTimeout() != nil || rt.GetRetryOn() != "" || rt.GetRetryRemoteLocalities() != nil) {
		r.errorf(at.Child("attempts"), "retries are disabled (0 attempts) but perTryTimeout, retryOn or retryRemoteLocalities is set")
	}
	positiveDuration(r, at.Child("perTryTimeout"), rt.GetPerTryTimeout())
	positiveDuration(r, at.Child("backoff"), rt.GetBackoff())
	if on := rt.GetRetryOn(); on != "" {
		for _, policy := range strings.Split(on, ",") {
			code, _ := strconv.Atoi(policy)
			if http.StatusText(code) == "" && !slices.Contains(retryOnPolicies, policy) {
				r.errorf(at.Child("retryOn"), "%q is not a retry condition or HTTP status", policy)
			}
		}
	}
}

func rewrite(r *Result, at *field.Path, rw *networking.HTTPRewrite) {
	if rw == nil {
		return
	}
	re := rw.GetUriRegexRewrite()
	switch {
	case rw.GetUri() != "" && re != nil:
		r.errorf(at, "uri and uriRegexRewrite cannot both be set")
	case rw.GetUri() == "" && re == nil && rw.GetAuthority() == "":
		r.errorf(at, "a rewrite needs a uri, a uriRegexRewrite or an authority")
	}
	if re != nil {
		if re.GetMatch() == "" || re.GetRewrite() == "" {
			r.errorf(at.Child("uriRegexRewrite"), "needs both match and rewrite")
		}
		if re.GetMatch() != "" {
			istioRegex(r, at.Child("uriRegexRewrite", "match"), re.GetMatch())
		}
	}
}
