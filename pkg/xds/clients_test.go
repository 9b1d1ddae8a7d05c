package xds

import (
	"context"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

// sotwClient is a raw SotW ADS stream.
type sotwClient struct {
	t      *testing.T
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *corev3.Node
	resps  chan *discoveryv3.DiscoveryResponse
	errc   chan error
	first  bool
	cancel context.CancelFunc // ends the stream, as a disconnecting proxy does
}

func (e *testEnv) sotw(nodeID, view string) *sotwClient {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	s, err := discoveryv3.NewAggregatedDiscoveryServiceClient(e.conn).StreamAggregatedResources(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	c := &sotwClient{t: e.t, stream: s, node: &corev3.Node{Id: nodeID, Cluster: view},
		resps: make(chan *discoveryv3.DiscoveryResponse, 100), errc: make(chan error, 1), first: true, cancel: cancel}
	go func() {
		for {
			r, err := s.Recv()
			if err != nil {
				c.errc <- err
				return
			}
			c.resps <- r
		}
	}()
	return c
}

func (c *sotwClient) send(req *discoveryv3.DiscoveryRequest) {
	c.t.Helper()
	if c.first {
		req.Node = c.node
		c.first = false
	}
	if err := c.stream.Send(req); err != nil {
		c.t.Fatal(err)
	}
}

func (c *sotwClient) request(typeURL string, names ...string) {
	c.send(&discoveryv3.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: names})
}

func (c *sotwClient) recv() *discoveryv3.DiscoveryResponse {
	c.t.Helper()
	select {
	case r := <-c.resps:
		return r
	case err := <-c.errc:
		c.t.Fatalf("stream ended: %v", err)
	case <-time.After(failAfter):
		c.t.Fatal("timed out waiting for a response")
	}
	return nil
}

// recvErr waits for the stream to fail.
func (c *sotwClient) recvErr() error {
	c.t.Helper()
	select {
	case r := <-c.resps:
		c.t.Fatalf("unexpected response %v", r)
	case err := <-c.errc:
		return err
	case <-time.After(failAfter):
		c.t.Fatal("timed out waiting for the stream to fail")
	}
	return nil
}

func (c *sotwClient) expectNone() {
	c.t.Helper()
	select {
	case r := <-c.resps:
		c.t.Fatalf("unexpected response: type %s, %d resources, version %s", r.TypeUrl, len(r.Resources), r.VersionInfo)
	case err := <-c.errc:
		c.t.Fatalf("stream ended: %v", err)
	case <-time.After(quietWindow):
	}
}

func (c *sotwClient) ack(r *discoveryv3.DiscoveryResponse, names ...string) {
	c.send(&discoveryv3.DiscoveryRequest{TypeUrl: r.TypeUrl, VersionInfo: r.VersionInfo, ResponseNonce: r.Nonce, ResourceNames: names})
}

func (c *sotwClient) nack(r *discoveryv3.DiscoveryResponse, prevVersion, msg string, names ...string) {
	c.send(&discoveryv3.DiscoveryRequest{TypeUrl: r.TypeUrl, VersionInfo: prevVersion, ResponseNonce: r.Nonce,
		ResourceNames: names, ErrorDetail: &rpcstatus.Status{Code: 3, Message: msg}})
}

// names decodes the resource names of a SotW response.
func names(t *testing.T, r *discoveryv3.DiscoveryResponse) []string {
	t.Helper()
	out := []string{}
	for _, a := range r.Resources {
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, nameOf(m))
	}
	return out
}

func nameOf(m proto.Message) string {
	if cla, ok := m.(*endpointv3.ClusterLoadAssignment); ok {
		return cla.ClusterName
	}
	return m.(interface{ GetName() string }).GetName()
}

// deltaClient is a raw delta ADS stream.
type deltaClient struct {
	t      *testing.T
	stream discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	node   *corev3.Node
	resps  chan *discoveryv3.DeltaDiscoveryResponse
	errc   chan error
	first  bool
	cancel context.CancelFunc
}

func (e *testEnv) delta(nodeID, view string) *deltaClient {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	s, err := discoveryv3.NewAggregatedDiscoveryServiceClient(e.conn).DeltaAggregatedResources(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	c := &deltaClient{t: e.t, stream: s, node: &corev3.Node{Id: nodeID, Cluster: view},
		resps: make(chan *discoveryv3.DeltaDiscoveryResponse, 100), errc: make(chan error, 1), first: true, cancel: cancel}
	go func() {
		for {
			r, err := s.Recv()
			if err != nil {
				c.errc <- err
				return
			}
			c.resps <- r
		}
	}()
	return c
}

func (c *deltaClient) send(req *discoveryv3.DeltaDiscoveryRequest) {
	c.t.Helper()
	if c.first {
		req.Node = c.node
		c.first = false
	}
	if err := c.stream.Send(req); err != nil {
		c.t.Fatal(err)
	}
}

func (c *deltaClient) recv() *discoveryv3.DeltaDiscoveryResponse {
	c.t.Helper()
	select {
	case r := <-c.resps:
		return r
	case err := <-c.errc:
		c.t.Fatalf("stream ended: %v", err)
	case <-time.After(failAfter):
		c.t.Fatal("timed out waiting for a delta response")
	}
	return nil
}

func (c *deltaClient) expectNone() {
	c.t.Helper()
	select {
	case r := <-c.resps:
		c.t.Fatalf("unexpected delta response: type %s, %d resources, removed %v", r.TypeUrl, len(r.Resources), r.RemovedResources)
	case err := <-c.errc:
		c.t.Fatalf("stream ended: %v", err)
	case <-time.After(quietWindow):
	}
}

func (c *deltaClient) ack(r *discoveryv3.DeltaDiscoveryResponse) {
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: r.TypeUrl, ResponseNonce: r.Nonce})
}

// deltaNames returns name -> version of a delta response's resources.
func deltaNames(r *discoveryv3.DeltaDiscoveryResponse) map[string]string {
	out := map[string]string{}
	for _, res := range r.Resources {
		out[res.Name] = res.Version
	}
	return out
}
