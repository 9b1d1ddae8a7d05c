package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

const (
	tCDS = iota
	tEDS
	tLDS
	tRDS
	tOther
)

func typeIndex(url string) int {
	switch url {
	case resourcev3.ClusterType:
		return tCDS
	case resourcev3.EndpointType:
		return tEDS
	case resourcev3.ListenerType:
		return tLDS
	case resourcev3.RouteType:
		return tRDS
	}
	return tOther
}

var typeURLs = [...]string{resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType}

// typeState is a client's protocol state for one type.
type typeState struct {
	version, nonce string   // SotW: last accepted version and the last nonce received
	names          []string // EDS/RDS: current explicit subscription, sorted
	received       bool     // a response of the type arrived
}

// client is one simulated sidecar: one ADS stream, reopened if it fails.
type client struct {
	r   *runner
	idx int

	// Written only by the client's stream goroutine.
	ts           [4]typeState
	clusters     map[string]*clusterSum
	clas         map[string]*claSum
	listeners    map[string]*listenerSum
	routes       map[string]*routeSum
	ldsRequested bool
	synced       bool
	seen         map[string]bool

	sendMu sync.Mutex
}

func newClient(r *runner, idx int) *client {
	return &client{r: r, idx: idx, seen: map[string]bool{}}
}

func (c *client) reset() {
	c.ts = [4]typeState{}
	c.clusters = map[string]*clusterSum{}
	c.clas = map[string]*claSum{}
	c.listeners = map[string]*listenerSum{}
	c.routes = map[string]*routeSum{}
	c.ldsRequested = false
}

var loggedErrors atomic.Int64

func (c *client) run(ctx context.Context, ads discoveryv3.AggregatedDiscoveryServiceClient) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			c.r.reconnects.Add(1)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
		c.reset()
		var err error
		if c.r.cfg.delta {
			err = c.runDelta(ctx, ads)
		} else {
			err = c.runSotw(ctx, ads)
		}
		if ctx.Err() != nil {
			return
		}
		c.r.streamErrors.Add(1)
		if loggedErrors.Add(1) <= 10 {
			fmt.Fprintf(os.Stderr, "adsclients: client %d: stream ended: %v\n", c.idx, err)
		}
	}
}

// request is what the protocol logic asks to send, independent of variant.
type request struct {
	t           int
	ack         bool     // answer the response just received
	subscribe   []string // delta: names added; SotW: the full list is ts.names
	unsubscribe []string
	initial     bool // first request of the type (wildcard types: no names)
}

// --- state of the world ---

func (c *client) runSotw(ctx context.Context, ads discoveryv3.AggregatedDiscoveryServiceClient) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	node := nodeFor(c.r.cfg, c.idx)
	send := func(reqs []request, withNode bool) error {
		c.sendMu.Lock()
		defer c.sendMu.Unlock()
		for _, q := range reqs {
			ts := &c.ts[q.t]
			req := &discoveryv3.DiscoveryRequest{TypeUrl: typeURLs[q.t], VersionInfo: ts.version, ResponseNonce: ts.nonce, ResourceNames: ts.names}
			if withNode {
				req.Node, withNode = node, false
			}
			if err := s.Send(req); err != nil {
				return err
			}
			if q.ack {
				c.r.acks.Add(1)
			}
		}
		return nil
	}
	if err := send([]request{{t: tCDS, initial: true}}, true); err != nil {
		return err
	}
	warm := c.warmTimer(func() error { return send(c.requestLDS(), false) })
	defer warm.Stop()
	for {
		resp, err := s.Recv()
		if err != nil {
			return err
		}
		at := time.Now()
		c.r.responses.Add(1)
		t := typeIndex(resp.GetTypeUrl())
		if t == tOther {
			// Not something a sidecar asked for here; ACK it and move on.
			_ = s.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resp.GetTypeUrl(), VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()})
			continue
		}
		ts := &c.ts[t]
		ts.nonce = resp.GetNonce()
		c.sendMu.Lock() // the warm timer reads the state too
		reqs := c.apply(t, resp.GetResources(), nil, true)
		ts.version = resp.GetVersionInfo()
		c.sendMu.Unlock()
		if err := send(reqs, false); err != nil {
			return err
		}
		c.checkMarkers(t, resp.GetResources(), nil, at)
		c.checkSynced()
	}
}

// --- incremental ---

func (c *client) runDelta(ctx context.Context, ads discoveryv3.AggregatedDiscoveryServiceClient) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := ads.DeltaAggregatedResources(ctx)
	if err != nil {
		return err
	}
	node := nodeFor(c.r.cfg, c.idx)
	var lastNonce [4]string
	send := func(reqs []request, withNode bool) error {
		c.sendMu.Lock()
		defer c.sendMu.Unlock()
		for _, q := range reqs {
			req := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: typeURLs[q.t], ResourceNamesSubscribe: q.subscribe, ResourceNamesUnsubscribe: q.unsubscribe}
			if q.ack {
				req.ResponseNonce = lastNonce[q.t]
				c.r.acks.Add(1)
			}
			if withNode {
				req.Node, withNode = node, false
			}
			if err := s.Send(req); err != nil {
				return err
			}
		}
		return nil
	}
	if err := send([]request{{t: tCDS, initial: true}}, true); err != nil {
		return err
	}
	warm := c.warmTimer(func() error { return send(c.requestLDS(), false) })
	defer warm.Stop()
	for {
		resp, err := s.Recv()
		if err != nil {
			return err
		}
		at := time.Now()
		c.r.responses.Add(1)
		t := typeIndex(resp.GetTypeUrl())
		if t == tOther {
			_ = s.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce()})
			continue
		}
		anys := make([]*anypb.Any, 0, len(resp.GetResources()))
		names := make([]string, 0, len(resp.GetResources()))
		for _, r := range resp.GetResources() {
			if r.GetResource() != nil {
				anys = append(anys, r.GetResource())
				names = append(names, r.GetName())
			}
		}
		c.sendMu.Lock()
		lastNonce[t] = resp.GetNonce()
		reqs := c.apply(t, anys, resp.GetRemovedResources(), false)
		c.sendMu.Unlock()
		if err := send(reqs, false); err != nil {
			return err
		}
		c.checkMarkers(t, anys, names, at)
		c.checkSynced()
	}
}

// warmTimer requests LDS if the EDS clusters are not all warm after
// warmTimeout, as Envoy's initial_fetch_timeout would.
func (c *client) warmTimer(requestLDS func() error) *time.Timer {
	return time.AfterFunc(c.r.cfg.warmTimeout, func() {
		c.sendMu.Lock()
		late := !c.ldsRequested && c.ts[tCDS].received
		c.sendMu.Unlock()
		if late {
			fmt.Fprintf(os.Stderr, "adsclients: client %d: EDS not warm after %s; requesting LDS anyway\n", c.idx, c.r.cfg.warmTimeout)
			_ = requestLDS()
		}
	})
}

// requestLDS returns the first LDS request, once. Caller must not hold sendMu.
func (c *client) requestLDS() []request {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.ldsRequested {
		return nil
	}
	c.ldsRequested = true
	return []request{{t: tLDS, initial: true}}
}

// apply merges a response into the client's state (full = SotW, where CDS
// and LDS responses carry the whole set) and returns what to send next, in
// order: new subscriptions, then the ACK, then LDS once the clusters are warm.
// Caller holds sendMu.
func (c *client) apply(t int, resources []*anypb.Any, removed []string, sotw bool) []request {
	ts := &c.ts[t]
	ts.received = true
	var out []request
	switch t {
	case tCDS:
		if sotw {
			c.clusters = make(map[string]*clusterSum, len(resources))
		}
		for _, n := range removed {
			delete(c.clusters, n)
		}
		for _, a := range resources {
			if cs := c.r.parsed.cluster(a); cs != nil {
				c.clusters[cs.name] = cs
			}
		}
		var eds []string
		for _, cs := range c.clusters {
			if cs.eds != "" {
				eds = append(eds, cs.eds)
			}
		}
		slices.Sort(eds)
		eds = slices.Compact(eds)
		if q, changed := c.resubscribe(tEDS, eds); changed {
			for n := range c.clas {
				if _, ok := slices.BinarySearch(eds, n); !ok {
					delete(c.clas, n)
				}
			}
			out = append(out, q)
		}
		out = append(out, request{t: tCDS, ack: true})
		if len(eds) == 0 && !c.ldsRequested {
			c.ldsRequested = true
			out = append(out, request{t: tLDS, initial: true})
		}
	case tEDS:
		for _, n := range removed {
			delete(c.clas, n)
		}
		for _, a := range resources {
			if ca := c.r.parsed.cla(a); ca != nil {
				c.clas[ca.name] = ca
			}
		}
		out = append(out, request{t: tEDS, ack: true})
		if !c.ldsRequested && c.edsWarm() {
			c.ldsRequested = true
			out = append(out, request{t: tLDS, initial: true})
		}
	case tLDS:
		if sotw {
			c.listeners = make(map[string]*listenerSum, len(resources))
		}
		for _, n := range removed {
			delete(c.listeners, n)
		}
		for _, a := range resources {
			if ls := c.r.parsed.listener(a); ls != nil {
				c.listeners[ls.name] = ls
			}
		}
		var rds []string
		for _, ls := range c.listeners {
			rds = append(rds, ls.rds...)
		}
		slices.Sort(rds)
		rds = slices.Compact(rds)
		if q, changed := c.resubscribe(tRDS, rds); changed {
			for n := range c.routes {
				if _, ok := slices.BinarySearch(rds, n); !ok {
					delete(c.routes, n)
				}
			}
			out = append(out, q)
		}
		out = append(out, request{t: tLDS, ack: true})
	case tRDS:
		for _, n := range removed {
			delete(c.routes, n)
		}
		for _, a := range resources {
			if rs := c.r.parsed.route(a); rs != nil {
				c.routes[rs.name] = rs
			}
		}
		out = append(out, request{t: tRDS, ack: true})
	}
	return out
}

// resubscribe sets the explicit subscription of t to names (sorted) and
// returns the request announcing it, if it changed.
func (c *client) resubscribe(t int, names []string) (request, bool) {
	ts := &c.ts[t]
	if names == nil {
		names = []string{}
	}
	if ts.names == nil && len(names) == 0 {
		return request{}, false // never subscribed, nothing to subscribe to
	}
	if ts.names != nil && slices.Equal(ts.names, names) {
		return request{}, false
	}
	q := request{t: t}
	for _, n := range names {
		if _, ok := slices.BinarySearch(ts.names, n); !ok {
			q.subscribe = append(q.subscribe, n)
		}
	}
	for _, n := range ts.names {
		if _, ok := slices.BinarySearch(names, n); !ok {
			q.unsubscribe = append(q.unsubscribe, n)
		}
	}
	ts.names = names
	return q, true
}

// edsWarm: every EDS cluster has its assignment. Caller holds sendMu.
func (c *client) edsWarm() bool {
	for _, n := range c.ts[tEDS].names {
		if c.clas[n] == nil {
			return false
		}
	}
	return true
}

// checkSynced records the client's cold sync: CDS, EDS, LDS and RDS all
// received and ACKed, every expected service cluster present with its
// endpoints, every route name the listeners use present.
func (c *client) checkSynced() {
	if c.synced {
		return
	}
	c.sendMu.Lock()
	ok := c.fullConfig()
	c.sendMu.Unlock()
	if ok {
		c.synced = true
		c.r.synced(c, time.Now())
	}
}

func (c *client) fullConfig() bool {
	if !c.ts[tCDS].received || !c.ts[tLDS].received || !c.edsWarm() {
		return false
	}
	for _, n := range c.ts[tRDS].names {
		if c.routes[n] == nil {
			return false
		}
	}
	suffix := "." + c.r.cfg.namespace + ".svc.cluster.local"
	services := 0
	for _, cs := range c.clusters {
		if !strings.HasPrefix(cs.name, "outbound|") || !strings.HasSuffix(cs.name, suffix) {
			continue
		}
		services++
		if cs.eds != "" {
			if ca := c.clas[cs.eds]; ca == nil || ca.endpoints < c.r.cfg.expectEndpoints {
				return false
			}
		}
	}
	return services >= c.r.cfg.expectClusters
}
