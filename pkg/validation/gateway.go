package validation

import (
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const unixPrefix = "unix://"

// Gateway validates a Gateway named name.
func Gateway(name string, gw *networking.Gateway) Result {
	var r Result
	at := spec()
	if name != "" && !isIstioDNSLabel(name) {
		r.errorf(field.NewPath("metadata", "name"), "gateway name %q is not a DNS-1123 label (no dots)", name)
	}
	if len(gw.GetServers()) == 0 {
		r.errorf(at.Child("servers"), "a gateway needs at least one server")
	}
	names := map[string]bool{}
	for i, s := range gw.GetServers() {
		sat := at.Child("servers").Index(i)
		server(&r, sat, s)
		if s.GetPort() == nil {
			continue
		}
		if names[s.GetPort().GetName()] {
			r.errorf(sat.Child("port", "name"), "duplicate port name %q: server port names must be unique", s.GetPort().GetName())
		}
		names[s.GetPort().GetName()] = true
		if !isHTTPProtocol(protocol(s.GetPort().GetProtocol())) && s.GetTls().GetHttpsRedirect() {
			r.warnf(sat.Child("tls", "httpsRedirect"), "only meaningful on HTTP servers")
		}
	}
	return r
}

func server(r *Result, at *field.Path, s *networking.Server) {
	if len(s.GetHosts()) == 0 {
		r.errorf(at.Child("hosts"), "a server needs at least one host")
	}
	for i, h := range s.GetHosts() {
		for _, err := range namespaceSlashHost(h, true) {
			r.errorf(at.Child("hosts").Index(i), "%v", err)
		}
	}
	portOK := serverPort(r, at.Child("port"), s.GetPort(), s.GetBind())
	bind := s.GetBind()
	if path, ok := strings.CutPrefix(bind, unixPrefix); ok {
		r.check(at.Child("bind"), unixAddress(path))
		if s.GetPort().GetNumber() != 0 {
			r.errorf(at.Child("port", "number"), "must be 0 for a unix domain socket bind")
		}
	} else if bind != "" && !isIP(bind) {
		r.errorf(at.Child("bind"), "%q is not an IP address or unix:// path", bind)
	}
	serverTLS(r, at.Child("tls"), s.GetTls())
	if !portOK {
		return
	}
	p := protocol(s.GetPort().GetProtocol())
	t := s.GetTls()
	switch {
	case isTLSProtocol(p) && t == nil:
		r.errorf(at.Child("tls"), "required: a %s server needs TLS settings", p)
	case !isTLSProtocol(p) && t != nil && isHTTPProtocol(p):
		passthrough := t.GetMode() == networking.ServerTLSSettings_PASSTHROUGH || t.GetMode() == networking.ServerTLSSettings_AUTO_PASSTHROUGH
		redirectOnly := passthrough && t.GetCaCertificates() == "" &&
			t.GetPrivateKey() == "" && t.GetServerCertificate() == ""
		if !redirectOnly {
			r.errorf(at.Child("tls"), "a plain-text %s server can only set httpsRedirect", p)
		}
	case !isTLSProtocol(p) && t != nil:
		r.errorf(at.Child("tls"), "only HTTPS and TLS servers have TLS settings, not %s", p)
	}
}

// serverPort reports whether the port is valid.
func serverPort(r *Result, at *field.Path, p *networking.Port, bind string) bool {
	if p == nil {
		r.errorf(at, "required")
		return false
	}
	n := len(r.Errors)
	if protocol(p.GetProtocol()) == "" {
		r.errorf(at.Child("protocol"), "unsupported protocol %q", p.GetProtocol())
	}
	if p.GetNumber() > 0 || !strings.HasPrefix(bind, unixPrefix) {
		r.check(at.Child("number"), port(int64(p.GetNumber())))
	}
	//nolint:staticcheck // targetPort is deprecated: that is the error.
	if p.GetTargetPort() > 0 {
		r.errorf(at.Child("targetPort"), "targetPort has no effect on gateways")
	}
	if p.GetName() == "" {
		r.errorf(at.Child("name"), "required")
	}
	return len(r.Errors) == n
}

func unixAddress(path string) error {
	switch {
	case path == "":
		return errString("empty unix domain socket path")
	case strings.HasPrefix(path, "@"):
		return nil
	case !strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/"):
		return errString(path + " is not an absolute path to a file")
	}
	return nil
}
