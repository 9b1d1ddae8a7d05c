package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/types/known/structpb"
)

// workloadProxy is one simulated sidecar of a workload the policies select,
// run inside the driver: one state-of-the-world ADS stream that asks for
// everything an Envoy sidecar asks for (wildcard CDS and LDS, EDS and RDS
// for the names they mention) and ACKs every response. Unlike adsclients'
// clients it reads its inbound listener: which AuthorizationPolicies its
// RBAC filters name, and when it ACKed a listener carrying a change.
type workloadProxy struct {
	wl    authzWorkload
	ip    string
	cache *summaryCache
	bytes atomic.Int64

	mu          sync.Mutex
	syncedAt    time.Time // zero until it has its full config
	bytesAtSync int64
	inbound     []byte          // the last virtualInbound listener received
	policies    map[string]bool // namespace/name of the policies its RBAC filters name
	httpRBAC    bool            // an HTTP RBAC filter guards one of its inbound HTTP chains
	armed       map[string]time.Time
	err         error
}

func (p *workloadProxy) nodeID() string {
	name := p.wl.app + "-0"
	return fmt.Sprintf("sidecar~%s~%s.%s~%s.svc.cluster.local", p.ip, name, p.wl.namespace, p.wl.namespace)
}

func (p *workloadProxy) node() (*corev3.Node, error) {
	meta, err := structpb.NewStruct(map[string]any{
		"NAMESPACE": p.wl.namespace, "LABELS": map[string]any{"app": p.wl.app}, "ISTIO_VERSION": "1.31.0",
		"CLUSTER_ID": "Kubernetes", "INSTANCE_IPS": p.ip, "NAME": p.wl.app + "-0", "POD_PORTS": "[]",
	})
	if err != nil {
		return nil, fmt.Errorf("workload proxy %s/%s: node metadata: %w", p.wl.namespace, p.wl.app, err)
	}
	return &corev3.Node{Id: p.nodeID(), Cluster: p.wl.app + "." + p.wl.namespace, Metadata: meta}, nil
}

type proxyBytes struct{ p *workloadProxy }

func (proxyBytes) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (proxyBytes) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (proxyBytes) HandleConn(context.Context, stats.ConnStats)                       {}
func (b proxyBytes) HandleRPC(_ context.Context, s stats.RPCStats) {
	if in, ok := s.(*stats.InPayload); ok {
		b.p.bytes.Add(int64(in.WireLength))
	}
}

// sotwType is the proxy's protocol state for one resource type.
type sotwType struct {
	url, version, nonce string
	names               []string // EDS, RDS: the current subscription
	received, pending   bool     // pending: subscribed to names not answered yet
}

// run keeps the stream until ctx ends or it fails (no reconnect: a failed
// stream fails the measurement).
func (p *workloadProxy) run(ctx context.Context, addr string) error {
	cc, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(proxyBytes{p}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)),
		grpc.WithInitialWindowSize(1<<28), grpc.WithInitialConnWindowSize(1<<28),
	)
	if err != nil {
		return err
	}
	defer func() { _ = cc.Close() }()
	node, err := p.node()
	if err != nil {
		return err
	}
	s, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	types := map[string]*sotwType{}
	for _, url := range []string{resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType} {
		types[url] = &sotwType{url: url}
	}
	send := func(t *sotwType, withNode bool) error {
		req := &discoveryv3.DiscoveryRequest{TypeUrl: t.url, VersionInfo: t.version, ResponseNonce: t.nonce, ResourceNames: t.names}
		if withNode {
			req.Node = node
		}
		return s.Send(req)
	}
	subscribe := func(t *sotwType, names []string) error {
		slices.Sort(names)
		names = slices.Compact(names)
		if slices.Equal(t.names, names) {
			return nil
		}
		t.names, t.pending = names, len(names) > 0
		return send(t, false)
	}
	if err := send(types[resourcev3.ClusterType], true); err != nil {
		return err
	}
	if err := send(types[resourcev3.ListenerType], false); err != nil {
		return err
	}
	for {
		resp, err := s.Recv()
		if err != nil {
			return err
		}
		t := types[resp.GetTypeUrl()]
		if t == nil {
			if err := s.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resp.GetTypeUrl(), VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}); err != nil {
				return err
			}
			continue
		}
		t.version, t.nonce, t.received, t.pending = resp.GetVersionInfo(), resp.GetNonce(), true, false
		switch resp.GetTypeUrl() {
		case resourcev3.ClusterType:
			var eds []string
			for _, a := range resp.GetResources() {
				if n := p.cache.clusterEDS(a); n != "" {
					eds = append(eds, n)
				}
			}
			if err := subscribe(types[resourcev3.EndpointType], eds); err != nil {
				return err
			}
		case resourcev3.ListenerType:
			var rds []string
			var inbound *listenerSummary
			var inboundBytes []byte
			for _, a := range resp.GetResources() {
				l := p.cache.listener(a)
				if l == nil {
					continue
				}
				rds = append(rds, l.rds...)
				if l.name == virtualInboundListener {
					inbound, inboundBytes = l, a.GetValue()
				}
			}
			if err := subscribe(types[resourcev3.RouteType], rds); err != nil {
				return err
			}
			if err := send(t, false); err != nil { // the ACK
				return err
			}
			p.acked(inbound, inboundBytes, time.Now())
			p.checkSynced(types)
			continue
		}
		if err := send(t, false); err != nil { // the ACK
			return err
		}
		p.checkSynced(types)
	}
}

// virtualInboundListener is the sidecar listener inbound traffic arrives on.
const virtualInboundListener = "virtualInbound"

// acked records the inbound listener of an ACKed LDS response and when it
// carried each armed change.
func (p *workloadProxy) acked(inbound *listenerSummary, raw []byte, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inbound, p.policies, p.httpRBAC = raw, map[string]bool{}, false
	if inbound != nil {
		for _, n := range inbound.policies {
			p.policies[n] = true
		}
		p.httpRBAC = inbound.httpRBAC
	}
	for token, seen := range p.armed {
		if seen.IsZero() && bytes.Contains(raw, []byte(token)) {
			p.armed[token] = at
		}
	}
}

func (p *workloadProxy) checkSynced(types map[string]*sotwType) {
	for _, t := range types {
		if t.pending || (!t.received && (t.url == resourcev3.ClusterType || t.url == resourcev3.ListenerType)) {
			return
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.syncedAt.IsZero() && p.inbound != nil {
		p.syncedAt, p.bytesAtSync = time.Now(), p.bytes.Load()
	}
}

// arm starts watching for token in the proxy's inbound listener; an
// inbound listener that carries it already counts from now.
func (p *workloadProxy) arm(token string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.armed == nil {
		p.armed = map[string]time.Time{}
	}
	p.armed[token] = time.Time{}
}

// seen is when the proxy ACKed an inbound listener carrying token (zero: not yet).
func (p *workloadProxy) seen(token string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.armed[token]
}

// workloadProxies are the simulated replicas of the selected workloads, one each.
type workloadProxies struct {
	proxies []*workloadProxy
	started time.Time
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// startWorkloadProxies connects one proxy per workload to addr; the
// clients' workload's replica gets clientAddr(clients), the address after
// the simulated clients'.
func startWorkloadProxies(ctx context.Context, addr string, workloads []authzWorkload, clients int) *workloadProxies {
	ctx, cancel := context.WithCancel(ctx)
	g := &workloadProxies{started: time.Now(), cancel: cancel}
	cache := &summaryCache{}
	for _, wl := range workloads {
		p := &workloadProxy{wl: wl, ip: wl.ip, cache: cache}
		if p.ip == "" {
			p.ip = clientAddr(clients)
		}
		g.proxies = append(g.proxies, p)
		g.wg.Go(func() {
			err := p.run(ctx, addr)
			if ctx.Err() == nil {
				p.mu.Lock()
				p.err = fmt.Errorf("workload proxy %s: stream ended: %w", p.nodeID(), err)
				p.mu.Unlock()
			}
		})
	}
	return g
}

func (g *workloadProxies) stop() {
	g.cancel()
	g.wg.Wait()
}

// failed is the first proxy's stream error, if any.
func (g *workloadProxies) failed() error {
	for _, p := range g.proxies {
		p.mu.Lock()
		err := p.err
		p.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// waitSynced waits until every proxy has its full config and returns when
// the last one got it.
func (g *workloadProxies) waitSynced(ctx context.Context, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		var last time.Time
		missing := 0
		for _, p := range g.proxies {
			p.mu.Lock()
			at := p.syncedAt
			p.mu.Unlock()
			if at.IsZero() {
				missing++
			} else if at.After(last) {
				last = at
			}
		}
		switch {
		case missing == 0:
			return last, nil
		case g.failed() != nil:
			return last, g.failed()
		case time.Now().After(deadline):
			return last, fmt.Errorf("%d of %d workload proxies without their full config after %s", missing, len(g.proxies), timeout)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitSeen waits until every proxy of ps ACKed an inbound listener carrying
// token, or timeout; it returns when each did (zero: not within timeout).
func waitSeen(ctx context.Context, ps []*workloadProxy, token string, timeout time.Duration) []time.Time {
	deadline := time.Now().Add(timeout)
	out := make([]time.Time, len(ps))
	for {
		missing := 0
		for i, p := range ps {
			if out[i].IsZero() {
				out[i] = p.seen(token)
			}
			if out[i].IsZero() {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return out
		}
		time.Sleep(5 * time.Millisecond)
	}
}
