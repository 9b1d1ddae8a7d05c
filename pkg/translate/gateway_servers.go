package translate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// serverMode is how a gateway server handles its connections.
type serverMode int

const (
	modeHTTP          serverMode = iota // plaintext HTTP, routed by RDS "http.<port>"
	modeTCP                             // plaintext TCP, proxied by the VirtualServices' tcp routes
	modeTerminateHTTP                   // HTTPS: TLS terminated here, then HTTP routing
	modeTerminateTCP                    // TLS terminated here, then tcp routes
	modePassthrough                     // TLS passed through, routed by SNI with tls routes
)

func (m serverMode) plaintext() bool { return m == modeHTTP || m == modeTCP }

// serverHost is a Gateway server host: VirtualServices from namespace ns
// (any namespace when empty) may bind to host.
type serverHost struct {
	ns, host string
}

// gwServer is one accepted server of a Gateway.
type gwServer struct {
	gw        *model.Gateway
	gateway   string // "namespace/name", as VirtualServices name it
	field     string // "spec.servers[i]"
	srv       *networking.Server
	port      uint32 // as declared: tcp and tls routes match on it
	listen    uint32 // where the listener is (see gatewayTargetPorts)
	mode      serverMode
	hosts     []serverHost
	routeName string     // RDS name for the HTTP modes
	tls       *serverTLS // TLS material for the terminating modes
}

// gatewayPort is the servers sharing one port, thus one listener.
type gatewayPort struct {
	number  uint32
	servers []*gwServer
}

func gwProblem(gw *model.Gateway, field, format string, args ...any) model.Problem {
	return model.Problem{Kind: "Gateway", Meta: gw.Meta, Field: field, Message: fmt.Sprintf(format, args...)}
}

// gatewayPorts accepts the servers of gws (oldest Gateway first) and groups
// them by port with Istio's merging rules: a port serves either plaintext
// (any number of HTTP servers, or one TCP server) or TLS (servers told
// apart by SNI, so no host twice). A server that does not fit is reported
// and dropped; the earlier ones keep the port.
func gatewayPorts(snap *model.Snapshot, p model.Proxy, gws []*model.Gateway) ([]*gatewayPort, []model.Problem) {
	byPort := map[uint32]*gatewayPort{}
	targets := gatewayTargetPorts(snap, p)
	var problems []model.Problem
	if pa := snap.MTLSFor(p.Namespace, p.Labels).Workload; pa != nil {
		// As in Istio: a gateway's inbound TLS is its servers' tls settings.
		problems = append(problems, model.Problem{Kind: model.KindPeerAuthentication, Meta: pa.Meta, Field: "spec.selector",
			Message: fmt.Sprintf("selects gateway proxies (%s), on which a PeerAuthentication has no effect; their Gateway servers' tls settings decide", labelList(p.Labels))})
	}
	for _, gw := range gws {
		for i, srv := range gw.Spec.GetServers() {
			accepted, ps := acceptServer(snap, p, gw, i, srv)
			problems = append(problems, ps...)
			if accepted == nil {
				continue
			}
			for _, listen := range listenPorts(targets, accepted.port) {
				s := *accepted
				s.listen = listen
				if s.mode == modeHTTP {
					s.routeName = "http." + strconv.FormatUint(uint64(listen), 10)
				}
				gp := byPort[listen]
				if gp == nil {
					gp = &gatewayPort{number: listen}
					byPort[listen] = gp
				}
				if msg := gp.conflict(&s); msg != "" {
					problems = append(problems, gwProblem(gw, s.field, "%s; this server is ignored", msg))
					continue
				}
				gp.servers = append(gp.servers, &s)
			}
		}
	}
	out := make([]*gatewayPort, 0, len(byPort))
	for _, port := range sortedPorts(byPort) {
		out = append(out, byPort[port])
	}
	return out, problems
}

// conflict says why s cannot join the servers already on the port.
func (gp *gatewayPort) conflict(s *gwServer) string {
	if len(gp.servers) == 0 {
		return ""
	}
	first := gp.servers[0]
	switch {
	case first.mode.plaintext() != s.mode.plaintext():
		return fmt.Sprintf("port %d already serves %s for Gateway %s (%s)", s.listen, first.srv.GetPort().GetProtocol(), first.gateway, first.field)
	case first.mode == modeTCP || s.mode == modeTCP:
		return fmt.Sprintf("port %d already has a server (Gateway %s, %s); a plaintext TCP server needs the port alone", s.listen, first.gateway, first.field)
	case s.mode.plaintext():
		return ""
	}
	// TLS servers are told apart by SNI: a host may appear on one only.
	own := s.sniHosts()
	for _, other := range gp.servers {
		if s.routeName != "" && other.routeName == s.routeName {
			return fmt.Sprintf("port name %q is already used on port %d by %s", s.srv.GetPort().GetName(), s.listen, other.field)
		}
		theirs := other.sniHosts()
		if len(own) == 0 && len(theirs) == 0 {
			return fmt.Sprintf("host \"*\" is already served on port %d by Gateway %s (%s)", s.listen, other.gateway, other.field)
		}
		for _, h := range own {
			if slices.Contains(theirs, h) {
				return fmt.Sprintf("host %q is already served on port %d by Gateway %s (%s)", h, s.listen, other.gateway, other.field)
			}
		}
	}
	return ""
}

// acceptServer checks one server and resolves what it needs; nil means it
// is skipped, with the reasons in problems.
func acceptServer(snap *model.Snapshot, p model.Proxy, gw *model.Gateway, i int, srv *networking.Server) (*gwServer, []model.Problem) {
	s := &gwServer{gw: gw, gateway: gw.Namespace + "/" + gw.Name, field: fmt.Sprintf("spec.servers[%d]", i), srv: srv, port: srv.GetPort().GetNumber()}
	var problems []model.Problem
	if srv.GetBind() != "" {
		problems = append(problems, gwProblem(gw, s.field+".bind", "bind is not supported yet; the server listens on 0.0.0.0"))
	}
	proto := model.ParseProtocol(srv.GetPort().GetProtocol())
	tls := srv.GetTls()
	switch {
	case proto.IsHTTP():
		s.mode = modeHTTP
	case proto == model.ProtocolHTTPS || proto == model.ProtocolTLS || (tls != nil && (proto == model.ProtocolTCP || proto == model.ProtocolMongo)):
		if tls == nil {
			return nil, append(problems, gwProblem(gw, s.field+".tls", "required for %s servers; this server is skipped", srv.GetPort().GetProtocol()))
		}
		switch tls.GetMode() {
		case networking.ServerTLSSettings_PASSTHROUGH:
			s.mode = modePassthrough
		case networking.ServerTLSSettings_SIMPLE, networking.ServerTLSSettings_MUTUAL, networking.ServerTLSSettings_OPTIONAL_MUTUAL:
			s.mode = modeTerminateTCP
			if proto == model.ProtocolHTTPS {
				s.mode = modeTerminateHTTP
				s.routeName = fmt.Sprintf("https.%d.%s.%s.%s", s.port, srv.GetPort().GetName(), gw.Name, gw.Namespace)
			}
			st, ps := resolveServerTLS(snap, p, gw, s.field+".tls", tls)
			problems = append(problems, ps...)
			if st == nil {
				return nil, problems
			}
			s.tls = st
		case networking.ServerTLSSettings_ISTIO_MUTUAL:
			s.mode = modeTerminateTCP
			if proto == model.ProtocolHTTPS {
				s.mode = modeTerminateHTTP
				s.routeName = fmt.Sprintf("https.%d.%s.%s.%s", s.port, srv.GetPort().GetName(), gw.Name, gw.Namespace)
			}
			s.tls = &serverTLS{settings: tls, istioMutual: true, trustDomain: snap.TrustDomain()}
		default:
			return nil, append(problems, gwProblem(gw, s.field+".tls.mode", "%s is not supported yet; this server is skipped", tls.GetMode()))
		}
	case proto == model.ProtocolTCP || proto == model.ProtocolMongo:
		s.mode = modeTCP
	default:
		return nil, append(problems, gwProblem(gw, s.field+".port.protocol", "protocol %q is not supported on gateways; this server is skipped", srv.GetPort().GetProtocol()))
	}
	for _, h := range srv.GetHosts() {
		s.hosts = append(s.hosts, parseServerHost(h, gw.Namespace))
	}
	return s, problems
}

// parseServerHost reads "ns/host", where ns may be "." (the Gateway's
// namespace) or "*" (any); a host without namespace allows any.
func parseServerHost(h, gwNamespace string) serverHost {
	ns, host, ok := strings.Cut(strings.ToLower(h), "/")
	if !ok {
		return serverHost{host: ns}
	}
	switch ns {
	case "*":
		ns = ""
	case ".":
		ns = gwNamespace
	}
	return serverHost{ns: ns, host: host}
}

// sniHosts are the SNI names the server answers; none means any.
func (s *gwServer) sniHosts() []string {
	var out []string
	for _, h := range s.hosts {
		if h.host == "*" {
			return nil
		}
		if !slices.Contains(out, h.host) {
			out = append(out, h.host)
		}
	}
	return out
}

// hostsFor are the server hosts a VirtualService in namespace ns may bind to.
func (s *gwServer) hostsFor(ns string) []string {
	var out []string
	for _, h := range s.hosts {
		if (h.ns == "" || h.ns == ns) && !slices.Contains(out, h.host) {
			out = append(out, h.host)
		}
	}
	return out
}

// intersectHosts pairs VirtualService hosts with server hosts and keeps
// the more specific host of each pair that overlaps: "a.example.com" with
// "*.example.com" gives "a.example.com", whichever side it is on.
func intersectHosts(vsHosts, serverHosts []string) []string {
	var out []string
	for _, v := range vsHosts {
		v = strings.ToLower(v)
		for _, h := range serverHosts {
			var pick string
			switch {
			case model.HostMatches(h, v):
				pick = v
			case model.HostMatches(v, h):
				pick = h
			default:
				continue
			}
			if !slices.Contains(out, pick) {
				out = append(out, pick)
			}
		}
	}
	return out
}
