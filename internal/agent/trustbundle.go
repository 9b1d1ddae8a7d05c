package agent

import (
	"context"
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/go-logr/logr"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	"k8s.io/utils/clock"
)

// ProxyConfigType is Istio's PCDS type: the discovery server sends the mesh's trust bundle
// as a mesh.v1alpha1.ProxyConfig's ca_certificates_pem, as istiod does to its agents.
const ProxyConfigType = "type.googleapis.com/istio.mesh.v1alpha1.ProxyConfig"

// trustBundleWatcher keeps the workload's trust bundle current while a root is rotated: it
// subscribes to PCDS on an ADS stream of its own to the discovery server (the CA's
// address, TLS, the pod's token), hands every bundle to apply, and ACKs it only once apply
// returned, so that the CA switches to a new root only after this workload trusts it. A
// bundle it cannot use is NACKed and the last good one kept.
type trustBundleWatcher struct {
	upstream *caClient
	node     *corev3.Node
	apply    func(roots []byte) error
	backoff  Backoff
	clock    clock.Clock
	log      logr.Logger
}

func (w *trustBundleWatcher) run(ctx context.Context) {
	delay := w.backoff.Initial
	for ctx.Err() == nil {
		received, err := w.stream(ctx)
		if ctx.Err() != nil {
			return
		}
		if received {
			delay = w.backoff.Initial
		}
		w.log.Info("trust bundle stream ended; reconnecting", "error", err.Error(), "after", delay)
		timer := w.clock.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C():
		}
		delay = min(2*delay, w.backoff.Max)
	}
}

// stream runs one ADS stream until it fails; received says whether a bundle came on it.
func (w *trustBundleWatcher) stream(ctx context.Context) (received bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctx, conn, err := w.upstream.dialDiscovery(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = conn.Close() }()
	ads, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return false, upstreamError(err)
	}
	if err := ads.Send(&discoveryv3.DiscoveryRequest{Node: w.node, TypeUrl: ProxyConfigType}); err != nil {
		return false, upstreamError(err)
	}
	accepted := ""
	for {
		resp, err := ads.Recv()
		if err != nil {
			return received, upstreamError(err)
		}
		ack := &discoveryv3.DiscoveryRequest{TypeUrl: ProxyConfigType, ResponseNonce: resp.GetNonce(), VersionInfo: resp.GetVersionInfo()}
		roots, err := trustBundleOf(resp)
		if err == nil {
			err = w.apply(roots)
		}
		if err != nil {
			w.log.Error(err, "trust bundle refused", "version", resp.GetVersionInfo())
			ack.VersionInfo = accepted
			ack.ErrorDetail = &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}
		} else {
			accepted, received = resp.GetVersionInfo(), true
			w.log.Info("trust bundle applied", "version", accepted, "roots", countCerts(roots))
		}
		if err := ads.Send(ack); err != nil {
			return received, upstreamError(err)
		}
	}
}

// trustBundleOf checks a PCDS response: one ProxyConfig whose ca_certificates_pem are CA
// certificates, at least one. An empty bundle is refused: it would trust nothing.
func trustBundleOf(resp *discoveryv3.DiscoveryResponse) ([]byte, error) {
	if n := len(resp.GetResources()); n != 1 {
		return nil, fmt.Errorf("PCDS response has %d resources; want one ProxyConfig", n)
	}
	pc := &meshv1alpha1.ProxyConfig{}
	if err := resp.GetResources()[0].UnmarshalTo(pc); err != nil {
		return nil, fmt.Errorf("PCDS response: %w", err)
	}
	if len(pc.GetCaCertificatesPem()) == 0 {
		return nil, fmt.Errorf("PCDS response: ca_certificates_pem is empty")
	}
	var entries []string
	for i, p := range pc.GetCaCertificatesPem() {
		certs, err := parseCerts([]byte(p))
		if err != nil {
			return nil, fmt.Errorf("PCDS response: ca_certificates_pem[%d]: %w", i, err)
		}
		for _, c := range certs {
			if !c.IsCA {
				return nil, fmt.Errorf("PCDS response: ca_certificates_pem[%d]: %s is not a CA", i, c.Subject)
			}
		}
		entries = append(entries, p)
	}
	return joinPEM(entries), nil
}

func countCerts(pemData []byte) int {
	certs, _ := parseCerts(pemData)
	return len(certs)
}

// trustBundleNode names the watcher's stream: the discovery server serves a node with
// LOOM_TRUST_BUNDLE_ONLY the trust bundle alone and does not count it as a proxy.
func trustBundleNode(o *Options) *corev3.Node {
	name := o.Bootstrap.PodName
	if name == "" {
		name = o.ServiceAccount
	}
	return &corev3.Node{
		Id: "loom-agent~" + name + "." + o.Namespace,
		Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{
			"LOOM_TRUST_BUNDLE_ONLY": structpb.NewStringValue("true"),
			"NAMESPACE":              structpb.NewStringValue(o.Namespace),
		}},
	}
}
