package translate

import (
	"strconv"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"loom.dev/loom/pkg/model"
)

// meshVirtualHost builds the Envoy virtual host for traffic from p to one service port, applying the VirtualService
// that routes the host for mesh traffic (snap.VirtualServiceFor) or a default route to the service's cluster.
//
// As in Istio, a VirtualService none of whose routes applies to this port
// and proxy leaves the service on the default route.
func meshVirtualHost(snap *model.Snapshot, p model.Proxy, svc *model.Service, port model.Port, domains []string) (*routev3.VirtualHost, []model.Problem) {
	vh := &routev3.VirtualHost{
		Name:    svc.Hostname + ":" + strconv.FormatUint(uint64(port.Number), 10),
		Domains: domains,
	}
	var problems []model.Problem
	if vs := snap.VirtualServiceFor(p.Namespace, svc.Hostname); vs != nil {
		vh.Routes, problems = httpRoutes(snap, p, vs, port.Number, model.MeshGateway)
	}
	if len(vh.Routes) == 0 {
		rb := newRouteBuilder(snap, p, port.Number, model.MeshGateway)
		vh.Routes = []*routev3.Route{rb.defaultRoute(svc, port)}
		problems = append(problems, rb.problems...)
	}
	return vh, problems
}

// defaultRoute sends everything to the service's cluster, with the mesh
// default timeout and retries (else Istio's) and the DestinationRule's hash
// key. As in Istio, the hash key does not take retries off the
// previous_hosts predicate here.
func (rb *routeBuilder) defaultRoute(svc *model.Service, port model.Port) *routev3.Route {
	d := destination{cluster: ClusterName(Outbound, port.Number, "", svc.Hostname), svc: svc, port: port.Number}
	action := &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: d.cluster}}
	rb.setTimeout(action, nil, origin{})
	action.HashPolicy = rb.hashPolicies([]destination{d})
	action.RetryPolicy, _ = rb.retryPolicy(nil, false, origin{})
	return &routev3.Route{
		Name:   "default",
		Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		Action: &routev3.Route_Route{Route: action},
	}
}
