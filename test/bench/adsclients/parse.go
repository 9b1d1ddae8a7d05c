package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// What a client keeps of each resource. Every client decodes what it
// receives; identical bytes (the same resource sent to many clients) are
// decoded once per process, so the clients' CPU stays small next to the
// control plane's and does not depend on which control plane serves them.
type clusterSum struct {
	name string
	eds  string // the EDS service name, if the cluster's endpoints come over EDS
}

type claSum struct {
	name      string
	endpoints int
	addrs     map[string]struct{}
}

type listenerSum struct {
	name string
	rds  []string
}

type routeSum struct {
	name string
	// domain -> clusters the virtual host's routes send to
	domains map[string][]string
}

type parseKey struct {
	t    int
	hash uint64
	size int
}

type parseCache struct {
	m sync.Map // parseKey -> *parsed
	// byAny is m by resource: responses of the same bytes share their resources (see
	// responseCodec), so most are found here without hashing their value. Resources
	// that are not shared would each add an entry: it starts over past maxByAny.
	byAny      sync.Map // *anypb.Any -> summary
	byAnyCount atomic.Int64
	errors     atomic.Int64
}

const maxByAny = 1 << 20

// parsed is one resource's summary, decoded by the first client that needed it while
// the others wait: after a change, a thousand clients receive the resource at once.
type parsed struct {
	done chan struct{} // closed once v is set
	v    any           // nil if the resource could not be decoded
}

func newParseCache() *parseCache { return &parseCache{} }

func (p *parseCache) get(t int, a *anypb.Any, parse func([]byte) (any, error)) any {
	if v, ok := p.byAny.Load(a); ok {
		return v
	}
	k := parseKey{t: t, hash: xxhash.Sum64(a.GetValue()), size: len(a.GetValue())}
	mine := &parsed{done: make(chan struct{})}
	e, loaded := p.m.LoadOrStore(k, mine)
	entry := e.(*parsed)
	if loaded {
		<-entry.done
	} else {
		v, err := parse(a.GetValue())
		if err != nil && p.errors.Add(1) <= 10 {
			fmt.Fprintf(os.Stderr, "adsclients: cannot decode %s: %v\n", a.GetTypeUrl(), err)
		}
		if err == nil {
			entry.v = v
		}
		close(entry.done)
	}
	if entry.v != nil {
		if p.byAnyCount.Add(1) > maxByAny {
			p.byAny.Clear()
			p.byAnyCount.Store(0)
		}
		p.byAny.Store(a, entry.v)
	}
	return entry.v
}

func (p *parseCache) cluster(a *anypb.Any) *clusterSum {
	v, _ := p.get(tCDS, a, func(b []byte) (any, error) {
		var c clusterv3.Cluster
		if err := proto.Unmarshal(b, &c); err != nil {
			return nil, err
		}
		s := &clusterSum{name: c.GetName()}
		if c.GetType() == clusterv3.Cluster_EDS {
			s.eds = c.GetEdsClusterConfig().GetServiceName()
			if s.eds == "" {
				s.eds = c.GetName()
			}
		}
		return s, nil
	}).(*clusterSum)
	return v
}

func (p *parseCache) cla(a *anypb.Any) *claSum {
	v, _ := p.get(tEDS, a, func(b []byte) (any, error) {
		var c endpointv3.ClusterLoadAssignment
		if err := proto.Unmarshal(b, &c); err != nil {
			return nil, err
		}
		s := &claSum{name: c.GetClusterName(), addrs: map[string]struct{}{}}
		for _, l := range c.GetEndpoints() {
			for _, e := range l.GetLbEndpoints() {
				s.endpoints++
				if sa := e.GetEndpoint().GetAddress().GetSocketAddress(); sa != nil {
					s.addrs[sa.GetAddress()] = struct{}{}
				}
			}
		}
		return s, nil
	}).(*claSum)
	return v
}

func (p *parseCache) listener(a *anypb.Any) *listenerSum {
	v, _ := p.get(tLDS, a, func(b []byte) (any, error) {
		var l listenerv3.Listener
		if err := proto.Unmarshal(b, &l); err != nil {
			return nil, err
		}
		s := &listenerSum{name: l.GetName()}
		chains := append([]*listenerv3.FilterChain{l.GetDefaultFilterChain()}, l.GetFilterChains()...)
		for _, fc := range chains {
			for _, f := range fc.GetFilters() {
				tc := f.GetTypedConfig()
				if tc == nil || !strings.HasSuffix(tc.GetTypeUrl(), ".HttpConnectionManager") {
					continue
				}
				var h hcmv3.HttpConnectionManager
				if err := proto.Unmarshal(tc.GetValue(), &h); err != nil {
					return nil, err
				}
				if n := h.GetRds().GetRouteConfigName(); n != "" {
					s.rds = append(s.rds, n)
				}
			}
		}
		return s, nil
	}).(*listenerSum)
	return v
}

func (p *parseCache) route(a *anypb.Any) *routeSum {
	v, _ := p.get(tRDS, a, func(b []byte) (any, error) {
		var rc routev3.RouteConfiguration
		if err := proto.Unmarshal(b, &rc); err != nil {
			return nil, err
		}
		s := &routeSum{name: rc.GetName(), domains: map[string][]string{}}
		for _, vh := range rc.GetVirtualHosts() {
			var clusters []string
			for _, r := range vh.GetRoutes() {
				ra := r.GetRoute()
				if c := ra.GetCluster(); c != "" {
					clusters = append(clusters, c)
				}
				for _, wc := range ra.GetWeightedClusters().GetClusters() {
					clusters = append(clusters, wc.GetName())
				}
			}
			for _, d := range vh.GetDomains() {
				s.domains[d] = clusters
			}
		}
		return s, nil
	}).(*routeSum)
	return v
}

// selfCPUSeconds is this process's user+system CPU time.
func selfCPUSeconds() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}
