package translate

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	networking "istio.io/api/networking/v1alpha3"
)

// maxDirectResponseBody is Istio's limit on directResponse bodies. Envoy's
// default is 4 KiB: a RouteConfiguration carrying direct responses should
// set max_direct_response_body_size_bytes to this.
const maxDirectResponseBody = 1024 * 1024

var redirectCodes = map[uint32]routev3.RedirectAction_RedirectResponseCode{
	0:   routev3.RedirectAction_MOVED_PERMANENTLY,
	301: routev3.RedirectAction_MOVED_PERMANENTLY,
	302: routev3.RedirectAction_FOUND,
	303: routev3.RedirectAction_SEE_OTHER,
	307: routev3.RedirectAction_TEMPORARY_REDIRECT,
	308: routev3.RedirectAction_PERMANENT_REDIRECT,
}

// redirect makes r answer with an HTTP redirect. derivePort
// FROM_REQUEST_PORT uses the port the route is built for, since Envoy
// cannot read it from the request; a scheme's default port is left out of
// the Location header.
func (rb *routeBuilder) redirect(r *routev3.Route, in *networking.HTTPRedirect, at origin) bool {
	code, ok := redirectCodes[in.GetRedirectCode()]
	if !ok {
		rb.report(at.at(".redirectCode"), "%d is not a redirect status (301, 302, 303, 307, 308); the route is left out", in.GetRedirectCode())
		return false
	}
	ra := &routev3.RedirectAction{HostRedirect: in.GetAuthority(), ResponseCode: code}
	switch {
	case in.GetUri() != "" && in.GetPrefixRewrite() != "":
		rb.report(at, "uri and prefixRewrite cannot both be set; the route is left out")
		return false
	case in.GetPrefixRewrite() != "":
		ra.PathRewriteSpecifier = &routev3.RedirectAction_PrefixRewrite{PrefixRewrite: in.GetPrefixRewrite()}
	case in.GetUri() != "":
		ra.PathRewriteSpecifier = &routev3.RedirectAction_PathRedirect{PathRedirect: in.GetUri()}
	}
	if in.GetScheme() != "" {
		ra.SchemeRewriteSpecifier = &routev3.RedirectAction_SchemeRedirect{SchemeRedirect: in.GetScheme()}
	}
	if in.GetRedirectPort() != nil {
		switch {
		case in.GetPort() > 65535:
			rb.report(at.at(".port"), "%d is not a port number; the route is left out", in.GetPort())
			return false
		case in.GetPort() != 0:
			ra.PortRedirect = in.GetPort()
		case in.GetDerivePort() == networking.HTTPRedirect_FROM_REQUEST_PORT:
			ra.PortRedirect = rb.port
		}
		scheme := in.GetScheme()
		if scheme == "" {
			scheme = "http"
		}
		if ra.PortRedirect == 80 && scheme == "http" || ra.PortRedirect == 443 && scheme == "https" {
			ra.PortRedirect = 0
		}
	}
	r.Action = &routev3.Route_Redirect{Redirect: ra}
	return true
}

// directResponse makes r answer by itself with a status and body.
func (rb *routeBuilder) directResponse(r *routev3.Route, in *networking.HTTPDirectResponse, at origin) bool {
	if s := in.GetStatus(); s < 200 || s > 599 {
		rb.report(at.at(".status"), "%d is not an HTTP status between 200 and 599; the route is left out", s)
		return false
	}
	dr := &routev3.DirectResponseAction{Status: in.GetStatus()}
	body := in.GetBody()
	switch {
	case body.GetSpecifier() == nil:
	case len(body.GetString_())+len(body.GetBytes()) > maxDirectResponseBody:
		rb.report(at.at(".body"), "larger than %d bytes; the route is left out", maxDirectResponseBody)
		return false
	case body.GetBytes() != nil:
		dr.Body = &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: body.GetBytes()}}
	default:
		dr.Body = &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: body.GetString_()}}
	}
	r.Action = &routev3.Route_DirectResponse{DirectResponse: dr}
	return true
}
