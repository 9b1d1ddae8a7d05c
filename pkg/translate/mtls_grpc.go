package translate

import (
	"maps"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"loom.dev/loom/pkg/model"
)

// grpcServerRequiresMTLS decides what a proxyless gRPC server accepts on a
// workload port, as Istio's grpcgen does (buildInboundFilterChains in
// pilot/pkg/networking/grpcgen/lds.go):
//   - STRICT: mutual TLS only;
//   - DISABLE: plaintext only;
//   - PERMISSIVE: gRPC cannot tell TLS from plaintext on one port (its
//     filter chain match knows no transport protocol but raw_buffer), so
//     a proxy labelled security.istio.io/tlsMode=istio, which clients
//     reach with auto mTLS, gets STRICT, any other plaintext only.
//
// The PERMISSIVE case is reported on the PeerAuthentication that asked for
// it; the mesh-wide default is not an object and is documented instead.
func grpcServerRequiresMTLS(p model.Proxy, port uint32, mtls model.WorkloadMTLS) (bool, []model.Problem) {
	s := mtls.ForPort(port)
	switch s.Mode {
	case model.MTLSStrict:
		return true, nil
	case model.MTLSDisable:
		return false, nil
	}
	strict := p.Labels[model.TLSModeLabel] == model.TLSModeIstio
	if s.From == nil {
		return strict, nil
	}
	o := origin{kind: model.KindPeerAuthentication, meta: s.From.Meta, field: s.Field}
	served := "plaintext only, as Istio does"
	if strict {
		served = "mutual TLS only, as Istio does for a proxy labelled " + model.TLSModeLabel + "=" + model.TLSModeIstio
	}
	return strict, []model.Problem{o.problem("PERMISSIVE is not possible on a proxyless gRPC server (gRPC cannot accept TLS and plaintext on one port): port %d of proxyless workloads labelled %s accepts %s",
		port, labelList(p.Labels), served)}
}

// grpcServerTransportSocket is the TLS a proxyless gRPC server requires
// for STRICT: a client certificate chained to the mesh root.
func grpcServerTransportSocket() *corev3.TransportSocket {
	return tlsTransportSocket(&tlsv3.DownstreamTlsContext{
		CommonTlsContext:         grpcCommonTLS(nil),
		RequireClientCertificate: wrapperspb.Bool(true),
	})
}

// grpcUpstreamTransportSocket is the TLS a proxyless gRPC client originates
// for ISTIO_MUTUAL: its workload certificate, the server's checked against
// the mesh root and sans. gRPC ignores SNI, so none is set, as in Istio.
func grpcUpstreamTransportSocket(sans []string) *corev3.TransportSocket {
	return tlsTransportSocket(&tlsv3.UpstreamTlsContext{CommonTlsContext: grpcCommonTLS(sans)})
}

func tlsTransportSocket(ctx proto.Message) *corev3.TransportSocket {
	return &corev3.TransportSocket{Name: tlsTransportSocketName, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: anyOf(ctx)}}
}

// labelList prints labels sorted, for messages: "app=a,version=v1".
func labelList(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}
