package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/go-logr/logr"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// xdsProxy serves ADS (state of the world and delta) to the local Envoy on
// a Unix socket and forwards every stream, message by message, to the
// discovery server: over TLS verified with the CA roots, authenticated by
// the pod's token, which is read again for every stream because the
// kubelet rotates it. It notes when the downstream first ACKs a Listener
// response: the sidecar is ready only then.
type xdsProxy struct {
	upstream *caClient
	grpc     *grpc.Server
	path     string
	log      logr.Logger

	ackOnce  sync.Once
	ldsAcked chan struct{}
}

// startXDSProxy listens on the Unix socket path and serves until stop.
func startXDSProxy(path string, upstream *caClient, log logr.Logger) (*xdsProxy, error) {
	lis, err := listenUnix(path, "--xds-proxy-socket")
	if err != nil {
		return nil, err
	}
	p := &xdsProxy{upstream: upstream, grpc: grpc.NewServer(), path: path, log: log, ldsAcked: make(chan struct{})}
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(p.grpc, p)
	go func() { _ = p.grpc.Serve(lis) }()
	return p, nil
}

func (p *xdsProxy) stop() {
	p.grpc.Stop()
	_ = os.Remove(p.path)
}

// listenersAcked reports whether a downstream ACKed a Listener response.
func (p *xdsProxy) listenersAcked() bool {
	select {
	case <-p.ldsAcked:
		return true
	default:
		return false
	}
}

func (p *xdsProxy) StreamAggregatedResources(down discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	ctx, cancel := context.WithCancel(down.Context())
	defer cancel()
	ctx, conn, err := p.upstream.dialDiscovery(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	up, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return upstreamError(err)
	}
	acks := &ackTracker{onAck: p.markAcked}
	return forward(cancel, down, up,
		func(r *discoveryv3.DiscoveryRequest) {
			acks.request(r.GetTypeUrl(), r.GetResponseNonce(), r.GetErrorDetail())
		},
		func(r *discoveryv3.DiscoveryResponse) { acks.response(r.GetTypeUrl(), r.GetNonce()) })
}

func (p *xdsProxy) DeltaAggregatedResources(down discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesServer) error {
	ctx, cancel := context.WithCancel(down.Context())
	defer cancel()
	ctx, conn, err := p.upstream.dialDiscovery(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	up, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return upstreamError(err)
	}
	acks := &ackTracker{onAck: p.markAcked}
	return forward(cancel, down, up,
		func(r *discoveryv3.DeltaDiscoveryRequest) {
			acks.request(r.GetTypeUrl(), r.GetResponseNonce(), r.GetErrorDetail())
		},
		func(r *discoveryv3.DeltaDiscoveryResponse) { acks.response(r.GetTypeUrl(), r.GetNonce()) })
}

func (p *xdsProxy) markAcked() {
	p.ackOnce.Do(func() {
		p.log.Info("Envoy ACKed its first listeners")
		close(p.ldsAcked)
	})
}

// downstream and upstream are the two ends of one ADS stream.
type downstream[Req, Resp any] interface {
	Send(Resp) error
	Recv() (Req, error)
}

type upstream[Req, Resp any] interface {
	Send(Req) error
	Recv() (Resp, error)
	CloseSend() error
}

// forward copies requests up and responses down until either side ends;
// the upstream's error (its gRPC status) is the downstream's. onRequest
// and onResponse see each message before it is passed on. cancel ends the
// upstream stream; forward returns only once nothing sends downstream any
// more, as gRPC requires of a handler.
func forward[Req, Resp any](cancel context.CancelFunc, down downstream[Req, Resp], up upstream[Req, Resp], onRequest func(Req), onResponse func(Resp)) error {
	errs := make(chan error, 2)
	responsesDone := make(chan struct{})
	go func() {
		for {
			req, err := down.Recv()
			if errors.Is(err, io.EOF) {
				_ = up.CloseSend()
				return // the upstream ends the stream in turn
			}
			if err != nil {
				errs <- err
				return
			}
			onRequest(req)
			if err := up.Send(req); err != nil {
				// Send reports io.EOF when the stream ended: Recv has the reason.
				if !errors.Is(err, io.EOF) {
					errs <- upstreamError(err)
				}
				return
			}
		}
	}()
	go func() {
		defer close(responsesDone)
		for {
			resp, err := up.Recv()
			if errors.Is(err, io.EOF) {
				errs <- nil
				return
			}
			if err != nil {
				errs <- upstreamError(err)
				return
			}
			onResponse(resp)
			if err := down.Send(resp); err != nil {
				errs <- err
				return
			}
		}
	}()
	err := <-errs
	cancel()
	<-responsesDone
	return err
}

// upstreamError keeps the discovery server's status code (Unauthenticated,
// PermissionDenied, ...) for Envoy and the logs.
func upstreamError(err error) error {
	if s, ok := status.FromError(err); ok {
		return status.Error(s.Code(), "discovery server: "+s.Message())
	}
	return status.Error(codes.Unavailable, fmt.Sprintf("discovery server: %v", err))
}

// ackTracker follows one stream: a request of type Listener that names the
// nonce of a Listener response and carries no error detail ACKs it.
type ackTracker struct {
	onAck  func()
	mu     sync.Mutex
	nonces map[string]bool
}

func (t *ackTracker) response(typeURL, nonce string) {
	if typeURL != resourcev3.ListenerType {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.nonces == nil {
		t.nonces = map[string]bool{}
	}
	t.nonces[nonce] = true
}

func (t *ackTracker) request(typeURL, nonce string, errorDetail *rpcstatus.Status) {
	if typeURL != resourcev3.ListenerType || nonce == "" || errorDetail != nil {
		return
	}
	t.mu.Lock()
	acked := t.nonces[nonce]
	t.mu.Unlock()
	if acked {
		t.onAck()
	}
}
