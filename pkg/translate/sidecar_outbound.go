package translate

import (
	"net/netip"
	"slices"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"loom.dev/loom/pkg/model"
)

const (
	virtualOutboundName = "virtualOutbound"
	virtualOutboundPort = 15001
	wildcardIPv4        = "0.0.0.0"
)

// outboundListeners lays out a sidecar's outbound listeners the way Istio
// does with iptables capture: virtualOutbound receives every redirected
// connection and hands it to the listener of its original destination,
// "<vip>_<port>" for TCP and TLS services with a virtual IP and
// "0.0.0.0_<port>" for everything else on that port (HTTP services, whose
// Host header picks the service, and services without a virtual IP,
// matched by destination IP or SNI). What matches no listener takes the
// outbound traffic policy's cluster.
type outboundListeners struct {
	l4         *l4Context
	policy     string // PassthroughCluster (ALLOW_ANY) or BlackHoleCluster (REGISTRY_ONLY)
	wildcard   map[uint32]*chainSet
	vips       map[string]*vipListener
	routePorts map[uint32]bool // ports with an RDS route configuration
	problems   []model.Problem
}

type vipListener struct {
	ip    string
	port  uint32
	set   *chainSet
	owner *model.Service
}

func newOutboundListeners(l4 *l4Context, policy string) *outboundListeners {
	return &outboundListeners{l4: l4, policy: policy, wildcard: map[uint32]*chainSet{}, vips: map[string]*vipListener{}, routePorts: map[uint32]bool{}}
}

// build adds every port of every service, HTTP ports first so that their
// connection manager owns the wildcard listener's catch-all chain.
func (o *outboundListeners) build(services []*model.Service) []types.Resource {
	for _, svc := range services {
		for _, port := range svc.Ports {
			if !port.Protocol.IsHTTP() || reservedPort(port.Number) {
				continue
			}
			if set := o.wildcardSet(port.Number); !set.hasCatchAll() {
				o.routePorts[port.Number] = true
				set.add(chainMatch{}, "", o.hcm(wildcardIPv4, port.Number), nil)
			}
		}
	}
	for _, svc := range services {
		for _, port := range svc.Ports {
			if !port.Protocol.IsHTTP() && !reservedPort(port.Number) {
				o.addL4(svc, port)
			}
		}
	}
	out := []types.Resource{o.virtualOutbound()}
	for _, port := range sortedPorts(o.wildcard) {
		set := o.wildcard[port]
		if !set.hasCatchAll() {
			set.add(chainMatch{}, o.policy, []*listenerv3.Filter{tcpProxyToCluster(o.policy, o.policy)}, nil)
		}
		out = append(out, outboundListener(wildcardIPv4, port, set))
	}
	names := make([]string, 0, len(o.vips))
	for name := range o.vips {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if v := o.vips[name]; len(v.set.chains) > 0 {
			out = append(out, outboundListener(v.ip, v.port, v.set))
		}
	}
	return out
}

func (o *outboundListeners) virtualOutbound() *listenerv3.Listener {
	chain := "PassthroughFilterChain"
	if o.policy == BlackHoleCluster {
		chain = "BlackHoleFilterChain"
	}
	return &listenerv3.Listener{
		Name:             virtualOutboundName,
		Address:          socketAddress(wildcardIPv4, virtualOutboundPort),
		UseOriginalDst:   wrapperspb.Bool(true),
		TrafficDirection: corev3.TrafficDirection_OUTBOUND,
		FilterChains: []*listenerv3.FilterChain{{
			Name:    chain,
			Filters: []*listenerv3.Filter{tcpProxyToCluster(o.policy, o.policy)},
		}},
	}
}

// outboundListener is reached only through virtualOutbound, so it does not
// bind its port.
func outboundListener(ip string, port uint32, set *chainSet) *listenerv3.Listener {
	l := &listenerv3.Listener{
		Name:             listenerName(ip, port),
		Address:          socketAddress(ip, port),
		BindToPort:       wrapperspb.Bool(false),
		TrafficDirection: corev3.TrafficDirection_OUTBOUND,
		FilterChains:     set.chains,
		ListenerFilters:  set.inspectors(),
	}
	// Istio's behaviour: when an inspector sees too little (a server-first
	// protocol), the connection goes on unmatched rather than being closed.
	l.ContinueOnListenerFiltersTimeout = len(l.ListenerFilters) > 0
	return l
}

func (o *outboundListeners) hcm(ip string, port uint32) []*listenerv3.Filter {
	name := strconv.FormatUint(uint64(port), 10)
	return []*listenerv3.Filter{httpConnectionManager(hcmOptions{
		statPrefix: "outbound_" + listenerName(ip, port),
		rds:        name,
		kind:       model.KindSidecar,
	})}
}

func (o *outboundListeners) wildcardSet(port uint32) *chainSet {
	set := o.wildcard[port]
	if set == nil {
		set = newChainSet()
		o.wildcard[port] = set
	}
	return set
}

// vipsOf splits a service's addresses into virtual IPs, which get their own
// listener, and CIDRs, matched on the wildcard listener.
func vipsOf(svc *model.Service) (vips, cidrs []string) {
	for _, a := range svc.Addresses {
		if addr, err := netip.ParseAddr(a); err == nil {
			if !addr.IsUnspecified() {
				vips = append(vips, addr.String())
			}
			continue
		}
		if r, ok := cidrRange(a); ok {
			cidrs = append(cidrs, r.GetAddressPrefix()+"/"+strconv.FormatUint(uint64(r.GetPrefixLen().GetValue()), 10))
		}
	}
	return vips, cidrs
}

// reservedPort: the sidecar's own listeners use these ports, and Envoy
// rejects two listeners on one address; Istio skips such service ports too.
func reservedPort(port uint32) bool {
	return port == virtualOutboundPort || port == virtualInboundPort
}

func sortedPorts[V any](m map[uint32]V) []uint32 {
	keys := make([]uint32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
