package translate

import (
	"slices"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"loom.dev/loom/pkg/model"
)

const (
	virtualInboundName = "virtualInbound"
	virtualInboundPort = 15006
	// InboundPassthroughCluster forwards inbound connections no service
	// port claims to their original destination on the workload.
	InboundPassthroughCluster = "InboundPassthroughCluster"
	// inboundPassthroughSource is the source address Envoy uses towards the
	// workload's own IP; Istio's iptables rules let it through instead of
	// capturing it again.
	inboundPassthroughSource = "127.0.0.6"
)

// inboundPort is one port the workload serves, as matched on virtualInbound
// (the port connections were addressed to).
type inboundPort struct {
	port     uint32
	protocol model.Protocol
	// endpoint is where the inbound cluster sends connections; bindSource,
	// when set, is the source address for reaching the workload's own IP.
	endpoint   *corev3.Address
	bindSource string
}

func (ip inboundPort) cluster() string { return ClusterName(Inbound, ip.port, "", "") }

// inboundPortsFromServices lists the ports of the services this proxy's
// workload serves: services with an endpoint at one of its IPs (on that
// endpoint's port), or, until endpoints are known, whose selector matches
// its labels. When two services claim a port, the first by hostname wins.
func inboundPortsFromServices(snap *model.Snapshot, p model.Proxy) []inboundPort {
	selecting := map[*model.Service]bool{}
	for _, svc := range snap.ServicesSelecting(p) {
		selecting[svc] = true
	}
	seen := map[uint32]bool{}
	var out []inboundPort
	add := func(port uint32, proto model.Protocol) {
		if port == 0 || seen[port] {
			return
		}
		seen[port] = true
		out = append(out, inboundPort{port: port, protocol: proto, endpoint: socketAddress("127.0.0.1", port)})
	}
	for _, svc := range snap.Services() {
		matched := false
		for _, ep := range svc.Endpoints {
			if !slices.Contains(p.IPs, ep.Address) {
				continue
			}
			matched = true
			for _, port := range svc.Ports {
				add(ep.PortFor(port), port.Protocol)
			}
		}
		if !matched && selecting[svc] {
			for _, port := range svc.Ports {
				add((&model.Endpoint{}).PortFor(port), port.Protocol)
			}
		}
	}
	slices.SortFunc(out, func(a, b inboundPort) int { return int(a.port) - int(b.port) })
	return out
}

// virtualInbound receives every connection iptables redirects to the
// workload and picks a filter chain by the original destination port, and
// by TLS or not as the port's PeerAuthentication mode says (see
// inboundMTLS.addChains).
//
// AuthorizationPolicy filters (authz) guard every chain but the loop guard.
func virtualInbound(ports []inboundPort, mtls inboundMTLS, authz inboundAuthz) *listenerv3.Listener {
	set := newChainSet()
	// A connection addressed to 15006 itself would loop back here forever.
	set.add(chainMatch{port: virtualInboundPort}, "virtualInbound-blackhole", []*listenerv3.Filter{tcpProxyToCluster(BlackHoleCluster, BlackHoleCluster)}, nil)
	var sniffed []uint32
	for _, ip := range ports {
		name := listenerName(wildcardIPv4, ip.port)
		tcp := authz.withNetwork(tcpProxyToCluster(ip.cluster(), ip.cluster()))
		switch {
		case ip.protocol.IsHTTP():
			mtls.addChains(set, chainMatch{port: ip.port}, name, inboundHCM(ip, authz), ip.protocol)
		case ip.protocol == model.ProtocolUnknown:
			// Mutual TLS on an UNKNOWN port is proxied as TCP: the
			// decrypted stream is not sniffed.
			if mtls.mode(ip.port) != model.MTLSStrict {
				set.add(chainMatch{port: ip.port, sniffHTTP: true}, name+"-http", inboundHCM(ip, authz), nil)
				sniffed = append(sniffed, ip.port)
			}
			mtls.addChains(set, chainMatch{port: ip.port}, name, tcp, ip.protocol)
		default:
			mtls.addChains(set, chainMatch{port: ip.port}, name, tcp, ip.protocol)
		}
	}
	passthrough := authz.withNetwork(tcpProxyToCluster(InboundPassthroughCluster, InboundPassthroughCluster))
	for _, port := range mtls.portLevelOnly(ports) {
		mtls.addChains(set, chainMatch{port: port}, listenerName(wildcardIPv4, port), passthrough, model.ProtocolUnknown)
	}
	mtls.addChains(set, chainMatch{}, virtualInboundName, passthrough, model.ProtocolUnknown)
	filters := []*listenerv3.ListenerFilter{originalDstFilter()}
	if tls := mtls.tlsInspector(ports); tls != nil {
		filters = append(filters, tls)
	}
	if len(sniffed) > 0 {
		// Sniff only the UNKNOWN ports: waiting for the first bytes would
		// stall server-first protocols on the others.
		http := httpInspectorFilter()
		http.FilterDisabled = notDestinationPorts(sniffed)
		filters = append(filters, http)
	}
	return &listenerv3.Listener{
		Name:                             virtualInboundName,
		Address:                          socketAddress(wildcardIPv4, virtualInboundPort),
		TrafficDirection:                 corev3.TrafficDirection_INBOUND,
		ListenerFilters:                  filters,
		ContinueOnListenerFiltersTimeout: true,
		FilterChains:                     set.chains,
	}
}

func inboundHCM(ip inboundPort, authz inboundAuthz) []*listenerv3.Filter {
	cluster := ip.cluster()
	return []*listenerv3.Filter{httpConnectionManager(hcmOptions{
		statPrefix: "inbound_" + listenerName(wildcardIPv4, ip.port),
		kind:       model.KindSidecar,
		authz:      authz.http,
		routes: &routev3.RouteConfiguration{
			Name: cluster,
			VirtualHosts: []*routev3.VirtualHost{{
				Name:    "inbound|http|" + strconv.FormatUint(uint64(ip.port), 10),
				Domains: []string{"*"},
				Routes: []*routev3.Route{{
					Name:  "default",
					Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
					Action: &routev3.Route_Route{Route: &routev3.RouteAction{
						ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster},
						// The workload enforces its own timeouts.
						Timeout: noTimeout(),
					}},
				}},
			}},
			ValidateClusters: wrapperspb.Bool(false),
		},
	})}
}

// notDestinationPorts matches connections to any port but the given ones.
func notDestinationPorts(ports []uint32) *listenerv3.ListenerFilterChainMatchPredicate {
	rules := make([]*listenerv3.ListenerFilterChainMatchPredicate, 0, len(ports))
	for _, p := range ports {
		rules = append(rules, &listenerv3.ListenerFilterChainMatchPredicate{Rule: &listenerv3.ListenerFilterChainMatchPredicate_DestinationPortRange{
			DestinationPortRange: &typev3.Int32Range{Start: int32(p), End: int32(p) + 1},
		}})
	}
	match := rules[0]
	if len(rules) > 1 {
		match = &listenerv3.ListenerFilterChainMatchPredicate{Rule: &listenerv3.ListenerFilterChainMatchPredicate_OrMatch{
			OrMatch: &listenerv3.ListenerFilterChainMatchPredicate_MatchSet{Rules: rules},
		}}
	}
	return &listenerv3.ListenerFilterChainMatchPredicate{Rule: &listenerv3.ListenerFilterChainMatchPredicate_NotMatch{NotMatch: match}}
}
