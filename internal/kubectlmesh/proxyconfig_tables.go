package kubectlmesh

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// configKind is one argument of proxy-config: the xDS type it shows and its table.
type configKind struct {
	typeURL   string
	nameField string // the resource's name field in the debug JSON (proto names)
	table     func(io.Writer, []map[string]any) error
}

var configKinds = map[string]configKind{
	"clusters":  {"type.googleapis.com/envoy.config.cluster.v3.Cluster", "name", clustersTable},
	"listeners": {"type.googleapis.com/envoy.config.listener.v3.Listener", "name", listenersTable},
	"routes":    {"type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name", routesTable},
	"endpoints": {"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", "cluster_name", endpointsTable},
	"secrets":   {"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "name", secretsTable},
}

func kindNames() []string {
	names := make([]string, 0, len(configKinds))
	for n := range configKinds {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func clustersTable(out io.Writer, resources []map[string]any) error {
	w := newTabWriter(out)
	fmt.Fprintln(w, "NAME\tTYPE\tEDS SERVICE\tLB POLICY\tTLS")
	for _, r := range resources {
		typ := str(r, "type")
		if typ == "" {
			typ = "EDS"
			if _, ok := r["eds_cluster_config"]; !ok {
				typ = "STATIC" // Envoy's default discovery type
			}
		}
		lb := str(r, "lb_policy")
		if lb == "" {
			lb = "ROUND_ROBIN"
		}
		_, tls := r["transport_socket"]
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%t\n", str(r, "name"), typ, orNone(str(r, "eds_cluster_config", "service_name")), lb, tls)
	}
	return w.Flush()
}

func listenersTable(out io.Writer, resources []map[string]any) error {
	w := newTabWriter(out)
	fmt.Fprintln(w, "NAME\tADDRESS\tPORT\tKIND\tFILTER CHAINS")
	for _, r := range resources {
		addr, port, kind := "-", "-", "socket"
		if _, ok := r["api_listener"]; ok {
			kind = "api"
		} else if sa := obj(r, "address", "socket_address"); sa != nil {
			addr, port = orNone(str(sa, "address")), num(sa, "port_value")
		}
		chains, _ := r["filter_chains"].([]any)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\n", str(r, "name"), addr, port, kind, len(chains))
	}
	return w.Flush()
}

func routesTable(out io.Writer, resources []map[string]any) error {
	w := newTabWriter(out)
	fmt.Fprintln(w, "NAME\tVIRTUAL HOST\tDOMAINS\tROUTES")
	for _, r := range resources {
		vhosts, _ := r["virtual_hosts"].([]any)
		if len(vhosts) == 0 {
			fmt.Fprintf(w, "%s\t-\t-\t0\n", str(r, "name"))
		}
		for _, v := range vhosts {
			vh, _ := v.(map[string]any)
			routes, _ := vh["routes"].([]any)
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", str(r, "name"), str(vh, "name"), orNone(strings.Join(strs(vh, "domains"), ",")), len(routes))
		}
	}
	return w.Flush()
}

func endpointsTable(out io.Writer, resources []map[string]any) error {
	w := newTabWriter(out)
	fmt.Fprintln(w, "CLUSTER\tENDPOINT\tHEALTH\tWEIGHT\tLOCALITY")
	for _, r := range resources {
		groups, _ := r["endpoints"].([]any)
		rows := 0
		for _, g := range groups {
			group, _ := g.(map[string]any)
			locality := strings.Trim(strings.Join([]string{str(group, "locality", "region"), str(group, "locality", "zone"), str(group, "locality", "sub_zone")}, "/"), "/")
			lbs, _ := group["lb_endpoints"].([]any)
			for _, e := range lbs {
				ep, _ := e.(map[string]any)
				sa := obj(ep, "endpoint", "address", "socket_address")
				health := str(ep, "health_status")
				if health == "" {
					health = "UNKNOWN"
				}
				weight := num(ep, "load_balancing_weight")
				if weight == "-" {
					weight = "1"
				}
				fmt.Fprintf(w, "%s\t%s:%s\t%s\t%s\t%s\n", str(r, "cluster_name"), str(sa, "address"), num(sa, "port_value"), health, weight, orNone(locality))
				rows++
			}
		}
		if rows == 0 {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\n", str(r, "cluster_name"))
		}
	}
	return w.Flush()
}

// obj walks nested objects; nil when a step is missing.
func obj(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m
}

// str reads a string at path; "" when missing.
func str(m map[string]any, path ...string) string {
	parent := obj(m, path[:len(path)-1]...)
	s, _ := parent[path[len(path)-1]].(string)
	return s
}

// num reads a JSON number (or a protojson 64-bit string) at path; "-" when missing.
func num(m map[string]any, path ...string) string {
	parent := obj(m, path[:len(path)-1]...)
	switch v := parent[path[len(path)-1]].(type) {
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return v
	}
	return "-"
}

func strs(m map[string]any, key string) []string {
	list, _ := m[key].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
