package xds

import (
	"context"
	"slices"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// deltaClient is a small incremental-xDS client, as Envoy speaks it: one
// stream, subscriptions per type, an ACK for every response.
type deltaClient struct {
	t      *testing.T
	stream discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	node   *corev3.Node
	resps  chan *discoveryv3.DeltaDiscoveryResponse // received and ACKed
	errs   chan error
}

func newDeltaClient(t *testing.T, ns string) *deltaClient {
	t.Helper()
	conn, err := grpc.NewClient(plane.xdsAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := structpb.NewStruct(map[string]any{"NAMESPACE": ns, "LABELS": map[string]any{"app": "delta-client"}})
	c := &deltaClient{t: t, stream: stream, node: &corev3.Node{Id: "sidecar~10.9.9.9~delta-client." + ns + "~" + ns + ".svc.cluster.local", Metadata: meta},
		resps: make(chan *discoveryv3.DeltaDiscoveryResponse, 100), errs: make(chan error, 1)}
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				c.errs <- err
				return
			}
			ack := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce(), Node: c.node}
			if err := stream.Send(ack); err != nil {
				c.errs <- err
				return
			}
			c.resps <- resp
		}
	}()
	return c
}

func (c *deltaClient) send(req *discoveryv3.DeltaDiscoveryRequest) {
	c.t.Helper()
	req.Node = c.node
	if err := c.stream.Send(req); err != nil {
		c.t.Fatal(err)
	}
}

// recv waits for the next response of a type (responses are ACKed as they
// arrive; those of other types are dropped).
func (c *deltaClient) recv(typeURL string) *discoveryv3.DeltaDiscoveryResponse {
	c.t.Helper()
	r := c.next(typeURL, 30*time.Second)
	if r == nil {
		c.t.Fatalf("no %s response within 30s", typeURL)
	}
	return r
}

// next returns the next response of a type within d, or nil.
func (c *deltaClient) next(typeURL string, d time.Duration) *discoveryv3.DeltaDiscoveryResponse {
	c.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case r := <-c.resps:
			if r.GetTypeUrl() == typeURL {
				return r
			}
		case err := <-c.errs:
			c.t.Fatalf("delta stream: %v", err)
		case <-timeout:
			return nil
		}
	}
}

func names(resources []*discoveryv3.Resource) []string {
	var out []string
	for _, r := range resources {
		out = append(out, r.GetName())
	}
	slices.Sort(out)
	return out
}

func TestDeltaXDSSendsOnlyWhatChanged(t *testing.T) {
	ns := newNamespace(t)
	a := startBackend(t, network.Hosts[0], "a-0", nil)
	b := startBackend(t, network.Hosts[1], "b-0", nil)
	createService(t, ns, "a", a.port, a)
	createService(t, ns, "b", b.port, b)
	clusterA := "outbound|" + itoa(a.port) + "||a." + ns + ".svc.cluster.local"
	clusterB := "outbound|" + itoa(b.port) + "||b." + ns + ".svc.cluster.local"

	c := newDeltaClient(t, ns)
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resourcev3.ClusterType}) // wildcard
	clusters := c.recv(resourcev3.ClusterType)
	if got := names(clusters.GetResources()); !slices.Contains(got, clusterA) || !slices.Contains(got, clusterB) {
		t.Fatalf("wildcard CDS must hold both services' clusters, got %v", got)
	}
	for _, r := range clusters.GetResources() {
		var cl clusterv3.Cluster
		if err := r.GetResource().UnmarshalTo(&cl); err != nil || r.GetVersion() == "" {
			t.Fatalf("cluster %s: version %q, %v", r.GetName(), r.GetVersion(), err)
		}
	}
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resourcev3.EndpointType, ResourceNamesSubscribe: []string{clusterA, clusterB}})
	if got := names(c.recv(resourcev3.EndpointType).GetResources()); !slices.Equal(got, []string{clusterA, clusterB}) {
		t.Fatalf("EDS must answer both subscribed names, got %v", got)
	}

	// One endpoint of "a" changes: the next response carries a's assignment only.
	endpointPushes := pushesFor(t, "endpoints")
	var slice discoveryv1.EndpointSlice
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "a-1"}, &slice); err != nil {
		t.Fatal(err)
	}
	slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{network.Hosts[2].IP}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	if err := k8sClient.Update(context.Background(), &slice); err != nil {
		t.Fatal(err)
	}
	update := c.recv(resourcev3.EndpointType)
	if got := names(update.GetResources()); !slices.Equal(got, []string{clusterA}) || len(update.GetRemovedResources()) != 0 {
		t.Fatalf("an endpoint change of a must send a's assignment alone, got %v removed %v", got, update.GetRemovedResources())
	}
	var cla endpointv3.ClusterLoadAssignment
	if err := update.GetResources()[0].GetResource().UnmarshalTo(&cla); err != nil {
		t.Fatal(err)
	}
	if n := countEndpoints(&cla); n != 2 {
		t.Errorf("a's assignment has %d endpoints, want 2", n)
	}
	// It came from the quick endpoint push, and the full push the same
	// change also caused found the same assignment: nothing more is sent.
	if got := pushesFor(t, "endpoints"); got <= endpointPushes {
		t.Errorf("endpoint pushes: %v before the change, %v after; want more", endpointPushes, got)
	}
	// Longer than the full push can take to follow: up to 1 s for the quick
	// push's delivery plus the 1 s debounce maximum.
	if r := c.next(resourcev3.EndpointType, 3*time.Second); r != nil {
		t.Errorf("a second endpoint response after the change: %v removed %v", names(r.GetResources()), r.GetRemovedResources())
	}

	// Service b goes away: its cluster is removed, nothing else is resent.
	deleteService(t, ns, "b")
	removed := c.recv(resourcev3.ClusterType)
	if !slices.Equal(removed.GetRemovedResources(), []string{clusterB}) || len(removed.GetResources()) != 0 {
		t.Fatalf("deleting b must remove its cluster alone, got resources %v removed %v", names(removed.GetResources()), removed.GetRemovedResources())
	}
}

func countEndpoints(cla *endpointv3.ClusterLoadAssignment) int {
	n := 0
	for _, l := range cla.GetEndpoints() {
		n += len(l.GetLbEndpoints())
	}
	return n
}

// pushesFor reads loom_xds_pushes_total for a reason from the control
// plane's metrics.
func pushesFor(t *testing.T, reason string) float64 {
	t.Helper()
	v, _ := counterWithLabel(t, "loom_xds_pushes_total", "reason", reason)
	return v
}
