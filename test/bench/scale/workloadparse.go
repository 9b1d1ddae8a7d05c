package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	rbacnetv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// listenerSummary is what a workload proxy keeps of a listener.
type listenerSummary struct {
	name string
	rds  []string // route names its HTTP connection managers load over RDS
	// policies are the AuthorizationPolicies (namespace/name) its RBAC
	// filters, HTTP and network, name; httpRBAC: an HTTP RBAC filter exists.
	policies []string
	httpRBAC bool
}

// summaryCache decodes each distinct resource once for all workload proxies.
type summaryCache struct{ m sync.Map }

type summaryKey struct {
	typeURL string
	hash    uint64
	size    int
}

func (c *summaryCache) get(a *anypb.Any, parse func([]byte) (any, error)) any {
	k := summaryKey{a.GetTypeUrl(), xxhash.Sum64(a.GetValue()), len(a.GetValue())}
	if v, ok := c.m.Load(k); ok {
		return v
	}
	v, err := parse(a.GetValue())
	if err != nil {
		v = err
	}
	v, _ = c.m.LoadOrStore(k, v)
	return v
}

// clusterEDS is the EDS service name of a cluster ("" when its endpoints
// do not come over EDS or it does not decode).
func (c *summaryCache) clusterEDS(a *anypb.Any) string {
	v := c.get(a, func(b []byte) (any, error) {
		var cl clusterv3.Cluster
		if err := proto.Unmarshal(b, &cl); err != nil {
			return nil, err
		}
		if cl.GetType() != clusterv3.Cluster_EDS {
			return "", nil
		}
		if n := cl.GetEdsClusterConfig().GetServiceName(); n != "" {
			return n, nil
		}
		return cl.GetName(), nil
	})
	s, _ := v.(string)
	return s
}

// listener summarizes a listener; nil when it does not decode.
func (c *summaryCache) listener(a *anypb.Any) *listenerSummary {
	v := c.get(a, func(b []byte) (any, error) {
		var l listenerv3.Listener
		if err := proto.Unmarshal(b, &l); err != nil {
			return nil, err
		}
		return summarizeListener(&l)
	})
	s, _ := v.(*listenerSummary)
	return s
}

const (
	hcmTypeSuffix         = ".HttpConnectionManager"
	httpRBACTypeSuffix    = "envoy.extensions.filters.http.rbac.v3.RBAC"
	networkRBACTypeSuffix = "envoy.extensions.filters.network.rbac.v3.RBAC"
)

func summarizeListener(l *listenerv3.Listener) (*listenerSummary, error) {
	s := &listenerSummary{name: l.GetName()}
	policies := map[string]bool{}
	chains := append([]*listenerv3.FilterChain{l.GetDefaultFilterChain()}, l.GetFilterChains()...)
	for _, fc := range chains {
		for _, f := range fc.GetFilters() {
			tc := f.GetTypedConfig()
			switch url := tc.GetTypeUrl(); {
			case strings.HasSuffix(url, hcmTypeSuffix):
				var h hcmv3.HttpConnectionManager
				if err := proto.Unmarshal(tc.GetValue(), &h); err != nil {
					return nil, fmt.Errorf("listener %s: filter %s: %w", l.GetName(), f.GetName(), err)
				}
				if n := h.GetRds().GetRouteConfigName(); n != "" {
					s.rds = append(s.rds, n)
				}
				for _, hf := range h.GetHttpFilters() {
					if !strings.HasSuffix(hf.GetTypedConfig().GetTypeUrl(), httpRBACTypeSuffix) {
						continue
					}
					var r rbachttpv3.RBAC
					if err := proto.Unmarshal(hf.GetTypedConfig().GetValue(), &r); err != nil {
						return nil, fmt.Errorf("listener %s: HTTP filter %s: %w", l.GetName(), hf.GetName(), err)
					}
					s.httpRBAC = true
					for k := range r.GetRules().GetPolicies() {
						addPolicy(policies, k)
					}
				}
			case strings.HasSuffix(url, networkRBACTypeSuffix):
				var r rbacnetv3.RBAC
				if err := proto.Unmarshal(tc.GetValue(), &r); err != nil {
					return nil, fmt.Errorf("listener %s: filter %s: %w", l.GetName(), f.GetName(), err)
				}
				for k := range r.GetRules().GetPolicies() {
					addPolicy(policies, k)
				}
			}
		}
	}
	for p := range policies {
		s.policies = append(s.policies, p)
	}
	slices.Sort(s.policies)
	return s, nil
}

// rbacPolicyKey is Istio's name of an RBAC policy: one rule of one
// AuthorizationPolicy.
var rbacPolicyKey = regexp.MustCompile(`^ns\[([^\]]+)\]-policy\[([^\]]+)\]-rule\[\d+\]$`)

func addPolicy(into map[string]bool, key string) {
	if m := rbacPolicyKey.FindStringSubmatch(key); m != nil {
		into[m[1]+"/"+m[2]] = true
	}
}
