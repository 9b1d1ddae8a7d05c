package xds

import (
	"context"
	"fmt"
	"io"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
)

// fakeStream is an in-process ADS stream: the server handler runs against it
// without a network, so tests can inspect the exact response objects and
// benchmarks can run many streams. When marshal is set, Send serializes the
// response as gRPC's codec would.
type fakeStream[Req, Resp any] struct {
	grpc.ServerStream
	ctx     context.Context
	reqs    chan *Req
	resps   chan *Resp
	marshal bool
}

func newFakeStream[Req, Resp any](ctx context.Context, marshal bool) *fakeStream[Req, Resp] {
	return &fakeStream[Req, Resp]{ctx: ctx, reqs: make(chan *Req, 16), resps: make(chan *Resp, 16), marshal: marshal}
}

func (f *fakeStream[Req, Resp]) Context() context.Context { return f.ctx }

func (f *fakeStream[Req, Resp]) Recv() (*Req, error) {
	select {
	case r := <-f.reqs:
		return r, nil
	case <-f.ctx.Done():
		return nil, io.EOF
	}
}

func (f *fakeStream[Req, Resp]) Send(r *Resp) error { return f.SendMsg(r) }

// SendMsg takes what the server hands gRPC: a response, or an *outgoing
// one with a shared body, which the fake passes on as the whole response.
func (f *fakeStream[Req, Resp]) SendMsg(m any) error {
	if f.marshal {
		bufs, err := sharedBodyCodec{encoding.GetCodecV2(protocodec.Name)}.Marshal(m)
		if err != nil {
			return err
		}
		bufs.Free()
	}
	if o, isOutgoing := m.(*outgoing); isOutgoing {
		m = o.Message
	}
	r, ok := m.(*Resp)
	if !ok {
		return fmt.Errorf("fake stream: unexpected message %T", m)
	}
	select {
	case f.resps <- r:
		return nil
	case <-f.ctx.Done():
		return f.ctx.Err()
	}
}

type fakeSotw = fakeStream[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]
type fakeDelta = fakeStream[discoveryv3.DeltaDiscoveryRequest, discoveryv3.DeltaDiscoveryResponse]

// serveFakeSotw runs the SotW handler on a fake stream until ctx ends.
func serveFakeSotw(ctx context.Context, s *Server, marshal bool) *fakeSotw {
	f := newFakeStream[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse](ctx, marshal)
	go func() { _ = s.StreamAggregatedResources(f) }()
	return f
}

func serveFakeDelta(ctx context.Context, s *Server, marshal bool) *fakeDelta {
	f := newFakeStream[discoveryv3.DeltaDiscoveryRequest, discoveryv3.DeltaDiscoveryResponse](ctx, marshal)
	go func() { _ = s.DeltaAggregatedResources(f) }()
	return f
}
