package translate

import (
	"strconv"
	"strings"
)

// Direction of a cluster, as in Istio's cluster names.
type Direction string

const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
)

// ClusterName is Istio's cluster naming: "outbound|8080|v1|reviews.default.svc.cluster.local".
// Keeping Istio's names keeps users' dashboards and istioctl habits working.
func ClusterName(d Direction, port uint32, subset, host string) string {
	return string(d) + "|" + strconv.FormatUint(uint64(port), 10) + "|" + subset + "|" + host
}

// ParseClusterName splits a name made by ClusterName.
func ParseClusterName(name string) (d Direction, port uint32, subset, host string, ok bool) {
	parts := strings.SplitN(name, "|", 4)
	if len(parts) != 4 {
		return "", 0, "", "", false
	}
	n, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return "", 0, "", "", false
	}
	return Direction(parts[0]), uint32(n), parts[2], parts[3], true
}

// Well-known clusters of Envoy proxies.
const (
	PassthroughCluster = "PassthroughCluster"
	BlackHoleCluster   = "BlackHoleCluster"
)

// GRPCServerListenerName is the Listener a proxyless gRPC server asks for,
// given the bootstrap template "grpc/server?xds.resource.listening_address=%s".
func GRPCServerListenerName(address string) string {
	return "grpc/server?xds.resource.listening_address=" + address
}
