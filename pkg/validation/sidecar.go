package validation

import (
	"net"
	"strconv"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Sidecar validates a Sidecar of the namespace.
func Sidecar(namespace string, sc *networking.Sidecar) Result {
	var r Result
	at := spec()
	if sel := sc.GetWorkloadSelector(); sel != nil {
		checkSelectorLabels(&r, at.Child("workloadSelector", "labels"), sel.GetLabels())
	}
	if len(sc.GetEgress()) == 0 && len(sc.GetIngress()) == 0 && sc.GetOutboundTrafficPolicy() == nil && sc.GetInboundConnectionPool() == nil {
		r.errorf(at, "empty Sidecar: set egress, ingress, outboundTrafficPolicy or inboundConnectionPool")
		return r
	}
	ports := map[uint32]bool{}
	for i, in := range sc.GetIngress() {
		sidecarIngress(&r, at.Child("ingress").Index(i), in, ports)
	}
	connectionPool(&r, at.Child("inboundConnectionPool"), sc.GetInboundConnectionPool())
	ports = map[uint32]bool{}
	sockets := map[string]bool{}
	for i, eg := range sc.GetEgress() {
		eat := at.Child("egress").Index(i)
		if eg.GetPort() == nil {
			if i != len(sc.GetEgress())-1 {
				r.errorf(eat.Child("port"), "only the last egress listener may omit its port (the catch-all)")
			}
		} else {
			sidecarPort(&r, eat, eg.GetPort(), eg.GetBind(), true)
			if c := eg.GetCaptureMode(); eg.GetPort().GetNumber() == 0 && c != networking.CaptureMode_DEFAULT && c != networking.CaptureMode_NONE {
				r.errorf(eat.Child("captureMode"), "must be DEFAULT or NONE for a unix domain socket listener")
			}
			if eg.GetPort().GetNumber() == 0 {
				if sockets[eg.GetBind()] {
					r.errorf(eat.Child("bind"), "duplicate unix domain socket %q", eg.GetBind())
				}
				sockets[eg.GetBind()] = true
			} else {
				if ports[eg.GetPort().GetNumber()] {
					r.errorf(eat.Child("port", "number"), "duplicate port %d: ports of IP listeners must be unique", eg.GetPort().GetNumber())
				}
				ports[eg.GetPort().GetNumber()] = true
			}
		}
		egressHosts(&r, eat.Child("hosts"), namespace, eg.GetHosts())
	}
	outboundPolicy(&r, at.Child("outboundTrafficPolicy"), sc.GetOutboundTrafficPolicy())
	return r
}

func sidecarIngress(r *Result, at *field.Path, in *networking.IstioIngressListener, ports map[uint32]bool) {
	if in.GetPort() == nil {
		r.errorf(at.Child("port"), "required for ingress listeners")
		return
	}
	sidecarPort(r, at, in.GetPort(), in.GetBind(), false)
	if ports[in.GetPort().GetNumber()] {
		r.errorf(at.Child("port", "number"), "duplicate port %d: ports of IP listeners must be unique", in.GetPort().GetNumber())
	}
	ports[in.GetPort().GetNumber()] = true
	if ep := in.GetDefaultEndpoint(); ep != "" {
		defaultEndpoint(r, at.Child("defaultEndpoint"), ep)
	}
	if t := in.GetTls(); t != nil {
		tat := at.Child("tls")
		for _, bad := range []struct {
			set   bool
			field string
		}{{len(t.GetSubjectAltNames()) > 0, "subjectAltNames"}, {t.GetHttpsRedirect(), "httpsRedirect"},
			{t.GetCredentialName() != "", "credentialName"}, {len(t.GetCredentialNames()) > 0, "credentialNames"},
			{len(t.GetTlsCertificates()) > 0, "tlsCertificates"}} {
			if bad.set {
				r.errorf(tat.Child(bad.field), "not supported in Sidecar ingress TLS")
			}
		}
		if m := t.GetMode(); m == networking.ServerTLSSettings_ISTIO_MUTUAL || m == networking.ServerTLSSettings_AUTO_PASSTHROUGH {
			r.errorf(tat.Child("mode"), "%v is not possible in Sidecar ingress TLS", m)
		}
		if !isTLSProtocol(protocol(in.GetPort().GetProtocol())) {
			r.errorf(tat, "only HTTPS and TLS ports have TLS settings")
		}
		serverTLS(r, tat, t)
	}
	connectionPool(r, at.Child("connectionPool"), in.GetConnectionPool())
	if in.GetConnectionPool().GetHttp() != nil && !isHTTPProtocol(protocol(in.GetPort().GetProtocol())) {
		r.warnf(at.Child("connectionPool", "http"), "port %d is not HTTP (%s): only the TCP settings apply", in.GetPort().GetNumber(), in.GetPort().GetProtocol())
	}
}

// sidecarPort checks a listener port and its bind; egress ports may be 0 with a unix bind.
func sidecarPort(r *Result, at *field.Path, p *networking.SidecarPort, bind string, egress bool) {
	pat := at.Child("port")
	//nolint:staticcheck // targetPort is deprecated: that is the error.
	if p.GetTargetPort() > 0 {
		r.errorf(pat.Child("targetPort"), "targetPort has no effect on Sidecars")
	}
	if p.GetName() != "" {
		r.check(pat.Child("name"), portName(p.GetName()))
	}
	checkProtocol(r, pat.Child("protocol"), p.GetProtocol())
	if egress && p.GetNumber() == 0 {
		if path, ok := strings.CutPrefix(bind, unixPrefix); ok {
			r.check(at.Child("bind"), unixAddress(path))
		} else {
			r.errorf(at.Child("bind"), "a listener on port 0 needs a unix:// bind")
		}
		return
	}
	r.check(pat.Child("number"), port(int64(p.GetNumber())))
	if bind != "" && !isIP(bind) {
		r.errorf(at.Child("bind"), "%q is not an IP address", bind)
	}
}

func defaultEndpoint(r *Result, at *field.Path, ep string) {
	if path, ok := strings.CutPrefix(ep, unixPrefix); ok {
		r.check(at, unixAddress(path))
		return
	}
	host, p, err := net.SplitHostPort(ep)
	if err != nil {
		r.errorf(at, "%v", err)
		return
	}
	if host != "" && host != "127.0.0.1" && host != "0.0.0.0" && host != "::1" && host != "::" {
		r.errorf(at, "must be 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port>, unix://<path> or unset")
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		r.errorf(at, "port %q is not a number", p)
		return
	}
	r.check(at, port(int64(n)))
}

func egressHosts(r *Result, at *field.Path, namespace string, hosts []string) {
	if len(hosts) == 0 {
		r.errorf(at, "an egress listener needs at least one host")
	}
	seen := map[string]map[string]bool{}
	for i, h := range hosts {
		hat := at.Index(i)
		if ns, name, ok := strings.Cut(h, "/"); ok && !strings.HasPrefix(ns, "~") {
			if ns == "." {
				ns = namespace
			}
			if seen[ns] == nil {
				seen[ns] = map[string]bool{}
			}
			if seen[ns][name] || seen[ns]["*"] || name == "*" && len(seen[ns]) > 0 {
				r.warnf(hat, "duplicate egress host %s", h)
			}
			seen[ns][name] = true
		}
		for _, err := range namespaceSlashHost(h, false) {
			r.errorf(hat, "%v", err)
		}
	}
	if seen["*"]["*"] && len(seen) > 1 {
		r.warnf(at, "*/* selects every host: the other entries add nothing")
	}
}

func outboundPolicy(r *Result, at *field.Path, p *networking.OutboundTrafficPolicy) {
	if p == nil || p.GetEgressProxy() == nil {
		return
	}
	if p.GetMode() != networking.OutboundTrafficPolicy_ALLOW_ANY {
		r.errorf(at.Child("egressProxy"), "only possible with mode ALLOW_ANY")
		return
	}
	r.check(at.Child("egressProxy", "host"), fqdn(p.GetEgressProxy().GetHost()))
	if p.GetEgressProxy().GetPort() == nil {
		r.errorf(at.Child("egressProxy", "port"), "required")
		return
	}
	destination(r, at.Child("egressProxy"), p.GetEgressProxy())
}
