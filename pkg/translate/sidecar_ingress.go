package translate

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// sidecarIngressPorts reads a Sidecar's ingress listeners, which replace the
// inbound ports derived from services, as in Istio. Traffic still arrives
// through iptables capture on virtualInbound.
func sidecarIngressPorts(sc *model.Sidecar, p model.Proxy) ([]inboundPort, []model.Problem) {
	var out []inboundPort
	var problems []model.Problem
	bad := func(field, format string, args ...any) {
		problems = append(problems, model.Problem{Kind: "Sidecar", Meta: sc.Meta, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	seen := map[uint32]int{}
	for i, in := range sc.Spec.GetIngress() {
		field := fmt.Sprintf("spec.ingress[%d]", i)
		num := in.GetPort().GetNumber()
		if num == 0 || num > 65535 {
			bad(field+".port.number", "%d is not a port number", num)
			continue
		}
		if j, dup := seen[num]; dup {
			bad(field+".port.number", "port %d is already declared by spec.ingress[%d]; this listener is ignored", num, j)
			continue
		}
		if in.GetTls() != nil {
			bad(field+".tls", "TLS termination on sidecar ingress is not supported yet; this listener is left out rather than served in plaintext")
			continue
		}
		if in.GetCaptureMode() == networking.CaptureMode_NONE || in.GetBind() != "" {
			bad(field, "bind and captureMode NONE are not supported; the port is served through iptables capture on virtualInbound")
		}
		proto := model.ParseProtocol(in.GetPort().GetProtocol())
		if in.GetPort().GetProtocol() == "" {
			proto = model.ProtocolFromPortName(in.GetPort().GetName())
		}
		ep, source, err := ingressEndpoint(in.GetDefaultEndpoint(), num, p)
		if err != nil {
			bad(field+".defaultEndpoint", "%v", err)
			continue
		}
		seen[num] = i
		out = append(out, inboundPort{port: num, protocol: proto, endpoint: ep, bindSource: source})
	}
	return out, problems
}

// ingressEndpoint parses defaultEndpoint: a loopback address, an
// unspecified one (the workload's own IP) or a Unix domain socket. Empty
// means 127.0.0.1 on the listener's port.
func ingressEndpoint(s string, port uint32, p model.Proxy) (addr *corev3.Address, bindSource string, err error) {
	if s == "" {
		return socketAddress("127.0.0.1", port), "", nil
	}
	if path, ok := strings.CutPrefix(s, "unix://"); ok {
		if path == "" {
			return nil, "", errors.New("unix:// needs a socket path")
		}
		return &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: path}}}, "", nil
	}
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		return nil, "", fmt.Errorf("%q must be 127.0.0.1:PORT, [::1]:PORT, 0.0.0.0:PORT, [::]:PORT or unix:///path", s)
	}
	n, err := strconv.ParseUint(portText, 10, 16)
	ip, ipErr := netip.ParseAddr(host)
	switch {
	case err != nil || n == 0:
		return nil, "", fmt.Errorf("%q has no valid port", s)
	case ipErr != nil:
		return nil, "", fmt.Errorf("%q: %q is not an IP address", s, host)
	case ip.IsLoopback():
		return socketAddress(ip.String(), uint32(n)), "", nil
	case ip.IsUnspecified():
		for _, own := range p.IPs {
			if a, err := netip.ParseAddr(own); err == nil && a.Is4() == ip.Is4() {
				source := inboundPassthroughSource
				if !ip.Is4() {
					source = "::6"
				}
				return socketAddress(a.String(), uint32(n)), source, nil
			}
		}
		return nil, "", fmt.Errorf("%q forwards to the workload's own IP, but the proxy reported no address of that family", s)
	}
	return nil, "", fmt.Errorf("%q: only loopback, unspecified (the workload's IP) or unix:// endpoints are allowed", s)
}
