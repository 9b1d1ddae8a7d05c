package xds

import (
	"sort"
	"strings"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// sendOrder is the make-before-break order of the xDS protocol: clusters
// before their endpoints, listeners before their routes. Types not listed
// follow in lexical order.
var sendOrder = map[string]int{
	resourcev3.ClusterType:         0,
	resourcev3.EndpointType:        1,
	resourcev3.ListenerType:        2,
	resourcev3.RouteType:           3,
	resourcev3.ScopedRouteType:     4,
	resourcev3.VirtualHostType:     5,
	resourcev3.SecretType:          6,
	resourcev3.RuntimeType:         7,
	resourcev3.ExtensionConfigType: 8,
}

// sortTypes orders type URLs for sending.
func sortTypes(urls []string) {
	sort.Slice(urls, func(i, j int) bool {
		oi, iok := sendOrder[urls[i]]
		oj, jok := sendOrder[urls[j]]
		switch {
		case iok && jok:
			return oi < oj
		case iok != jok:
			return iok
		default:
			return urls[i] < urls[j]
		}
	})
}

// fullStateInSotw reports whether a SotW response of this type must carry
// every subscribed resource (absence means deletion), per the xDS spec.
func fullStateInSotw(typeURL string) bool {
	return typeURL == resourcev3.ListenerType || typeURL == resourcev3.ClusterType
}

// typeLabel is the short metric label of a type URL: the message name
// without its package ("Cluster", "ClusterLoadAssignment").
func typeLabel(typeURL string) string {
	if i := strings.LastIndexByte(typeURL, '.'); i >= 0 && i+1 < len(typeURL) {
		return typeURL[i+1:]
	}
	if typeURL == "" {
		return "unknown"
	}
	return typeURL
}
