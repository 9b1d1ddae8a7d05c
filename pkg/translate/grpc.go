package translate

import (
	"net"
	"slices"
	"strconv"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"loom.dev/loom/pkg/model"
)

// forGRPC builds what a proxyless gRPC application sees. As a client, for
// every service port it sees: an API listener named "host:port" (what
// gRPC-Go asks for when dialing "xds:///host:port"), also under the short
// names Kubernetes DNS allows, all pointing at one RouteConfiguration named
// after the full name; plus the clusters and endpoints. As a server (see
// grpcServerListeners), the listeners xds.NewGRPCServer waits for.
func forGRPC(snap *model.Snapshot, p model.Proxy) (Resources, []model.Problem) {
	services := servicesFor(snap, p)
	clusters, assignments, problems := outboundClusters(snap, p, services)

	type clientPort struct {
		svc     *model.Service
		port    model.Port
		aliases []string
	}
	var ports []clientPort
	taken := map[string]bool{}
	for _, svc := range services {
		if strings.Contains(svc.Hostname, "*") {
			continue // no client can dial a wildcard
		}
		for _, port := range svc.Ports {
			if name := hostPort(svc.Hostname, port.Number); !taken[name] { // a port listed twice counts once
				taken[name] = true
				ports = append(ports, clientPort{svc: svc, port: port})
			}
		}
	}
	// Short names go to the first service that claims them, and never
	// shadow a real host of the same name.
	for i := range ports {
		for _, a := range shortNames(snap, p, ports[i].svc) {
			name := hostPort(a, ports[i].port.Number)
			if !taken[name] {
				taken[name] = true
				ports[i].aliases = append(ports[i].aliases, name)
			}
		}
	}

	var listeners, routes []types.Resource
	for _, cp := range ports {
		fqdn := hostPort(cp.svc.Hostname, cp.port.Number)
		domains := []string{cp.svc.Hostname, fqdn}
		for _, a := range cp.aliases {
			host, _, _ := net.SplitHostPort(a)
			domains = append(domains, host, a)
		}
		vh, ps := meshVirtualHost(snap, p, cp.svc, cp.port, domains)
		problems = append(problems, ps...)
		routes = append(routes, &routev3.RouteConfiguration{
			Name:                           fqdn,
			VirtualHosts:                   []*routev3.VirtualHost{vh},
			MaxDirectResponseBodySizeBytes: wrapperspb.UInt32(maxDirectResponseBody),
		})
		hcm := grpcClientHCM(fqdn)
		for _, name := range append([]string{fqdn}, cp.aliases...) {
			listeners = append(listeners, &listenerv3.Listener{Name: name, ApiListener: &listenerv3.ApiListener{ApiListener: hcm}})
		}
	}
	servers, serverProblems := grpcServerListeners(snap, p)
	listeners = append(listeners, servers...)
	problems = append(problems, serverProblems...)
	problems = append(problems, grpcTelemetryProblems(snap, p)...)
	return Resources{
		resourcev3.ListenerType: sortedByName(listeners),
		resourcev3.RouteType:    sortedByName(routes),
		resourcev3.ClusterType:  clusters,
		resourcev3.EndpointType: assignments,
	}, dedupeProblems(problems)
}

func hostPort(host string, port uint32) string {
	return net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10))
}

// shortNames are the names Kubernetes DNS resolves for a Service besides
// its full name: "name.namespace", "name.namespace.svc", and "name" from
// its own namespace.
func shortNames(snap *model.Snapshot, p model.Proxy, svc *model.Service) []string {
	if svc.Source != model.SourceKubernetes || svc.Hostname != model.ServiceHostname(svc.Name, svc.Namespace, snap.DomainSuffix()) {
		return nil
	}
	out := []string{svc.Name + "." + svc.Namespace, svc.Name + "." + svc.Namespace + ".svc"}
	if svc.Namespace == p.Namespace {
		out = append(out, svc.Name)
	}
	return out
}

// grpcClientHCM is the API listener of a service port: an HTTP connection
// manager whose routes come over RDS, with gRPC's filter chain. The short
// names of the port share it.
func grpcClientHCM(routeConfig string) *anypb.Any {
	return anyOf(&hcmv3.HttpConnectionManager{
		StatPrefix: routeConfig,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: viaADS(), RouteConfigName: routeConfig,
		}},
		HttpFilters: httpFilters(model.KindGRPC),
	})
}

// named is any resource with a name.
type named interface{ GetName() string }

func sortedByName(rs []types.Resource) []types.Resource {
	slices.SortFunc(rs, func(a, b types.Resource) int { return strings.Compare(a.(named).GetName(), b.(named).GetName()) })
	return rs
}

// grpcTelemetryProblems reports the Telemetry objects that select this proxyless gRPC
// workload with access logging or tracing: gRPC-Go's xDS client implements neither, so they
// take no effect here. The message names no workload, so every gRPC proxy's report of an
// object is one problem.
func grpcTelemetryProblems(snap *model.Snapshot, p model.Proxy) []model.Problem {
	var out []model.Problem
	for _, t := range snap.TelemetryPoliciesFor(p.Namespace, p.Labels) {
		if len(t.Spec.GetAccessLogging()) == 0 && len(t.Spec.GetTracing()) == 0 {
			continue
		}
		out = append(out, model.Problem{Kind: model.KindTelemetry, Meta: t.Meta, Field: "spec",
			Message: "selects proxyless gRPC workloads, which get neither access logs nor tracing: gRPC-Go's xDS client implements neither (Envoy sidecars and gateways do)"})
	}
	return out
}
