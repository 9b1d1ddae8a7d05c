package standinenvoy

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	// Typed configs the bootstrap may hold, so that it can be read and validated.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// serveStaticListeners serves the bootstrap's static HTTP listeners as Envoy would for the
// routes Loom's bootstrap has: a path prefix to a cluster of one socket address (readiness
// on 15021 to the agent, Prometheus stats on 15090 to the admin port).
func serveStaticListeners(b *bootstrapv3.Bootstrap) error {
	clusters := map[string]string{}
	for _, c := range b.GetStaticResources().GetClusters() {
		if lbs := c.GetLoadAssignment().GetEndpoints(); len(lbs) > 0 && len(lbs[0].GetLbEndpoints()) > 0 {
			if sa := lbs[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress(); sa != nil {
				clusters[c.GetName()] = hostPort(sa)
			}
		}
	}
	for _, l := range b.GetStaticResources().GetListeners() {
		routes, err := listenerRoutes(l.GetFilterChains())
		if err != nil {
			return fmt.Errorf("listener %s: %w", l.GetName(), err)
		}
		mux := http.NewServeMux()
		for _, r := range routes {
			target, ok := clusters[r.GetRoute().GetCluster()]
			prefix := r.GetMatch().GetPrefix()
			if !ok || prefix == "" {
				return fmt.Errorf("listener %s: route to %q: only a prefix to a static cluster is served", l.GetName(), r.GetRoute().GetCluster())
			}
			proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
			mux.HandleFunc(prefix, func(w http.ResponseWriter, req *http.Request) {
				if !strings.HasPrefix(req.URL.Path, prefix) {
					http.NotFound(w, req)
					return
				}
				proxy.ServeHTTP(w, req)
			})
		}
		lis, err := net.Listen("tcp", hostPort(l.GetAddress().GetSocketAddress()))
		if err != nil {
			return fmt.Errorf("listener %s: %w", l.GetName(), err)
		}
		go func() { _ = (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(lis) }()
	}
	return nil
}

func listenerRoutes(chains []*listenerv3.FilterChain) ([]*routev3.Route, error) {
	var routes []*routev3.Route
	for _, fc := range chains {
		for _, f := range fc.GetFilters() {
			hcm := &hcmv3.HttpConnectionManager{}
			if err := f.GetTypedConfig().UnmarshalTo(hcm); err != nil {
				return nil, fmt.Errorf("filter %s: %w", f.GetName(), err)
			}
			for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
				routes = append(routes, vh.GetRoutes()...)
			}
		}
	}
	return routes, nil
}

func hostPort(sa *corev3.SocketAddress) string {
	return net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))
}
