package agent

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/cespare/xxhash/v2"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
)

// SDS secret names, as Istio's agent serves them to Envoy.
const (
	SecretWorkload = "default" // the workload certificate chain and key
	SecretRoot     = "ROOTCA"  // the trust bundle
)

// sdsServer serves Envoy's Secret Discovery Service (state of the world and
// delta) on a Unix socket. Envoy's requests wait until the first
// certificate is published; every later publish is pushed as a new version,
// named after the certificate's serial number so that an Envoy reconnecting
// to a restarted agent never mistakes a new certificate for the one it has.
type sdsServer struct {
	cache cachev3.SnapshotCache
	grpc  *grpc.Server
	path  string
}

// anyNode puts every Envoy in one group: all are the same workload.
type anyNode struct{}

func (anyNode) ID(*corev3.Node) string { return "" }

// startSDS listens on the Unix socket path, replacing a stale socket a
// previous agent left behind, and serves until stop is called.
func startSDS(ctx context.Context, path string) (*sdsServer, error) {
	lis, err := listenUnix(path, "--sds-socket")
	if err != nil {
		return nil, err
	}
	s := &sdsServer{
		cache: cachev3.NewSnapshotCache(false, anyNode{}, nil),
		grpc:  grpc.NewServer(),
		path:  path,
	}
	secretv3.RegisterSecretDiscoveryServiceServer(s.grpc, serverv3.NewServer(ctx, s.cache, nil))
	go func() { _ = s.grpc.Serve(lis) }()
	return s, nil
}

// publish replaces both secrets with b's in one new version.
func (s *sdsServer) publish(b *bundle) error {
	secrets, err := sdsSecrets(b)
	if err != nil {
		return err
	}
	// A new trust bundle with the same certificate is a new version too.
	version := b.leaf.SerialNumber.Text(16) + "-" + strconv.FormatUint(xxhash.Sum64(b.rootPEM), 16)
	snapshot, err := cachev3.NewSnapshot(version, map[resourcev3.Type][]types.Resource{resourcev3.SecretType: secrets})
	if err != nil {
		return fmt.Errorf("SDS snapshot: %w", err)
	}
	return s.cache.SetSnapshot(context.Background(), "", snapshot)
}

// stop closes open streams and removes the socket.
func (s *sdsServer) stop() {
	s.grpc.Stop()
	// Stop already removed the socket when it closed the listener; a socket
	// left behind anyway is replaced by the next agent.
	_ = os.Remove(s.path)
}

// sdsSecrets are the SDS resources for b, validated as Envoy would.
func sdsSecrets(b *bundle) ([]types.Resource, error) {
	workload := &tlsv3.Secret{
		Name: SecretWorkload,
		Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: inline(b.chainPEM),
			PrivateKey:       inline(b.keyPEM),
		}},
	}
	root := &tlsv3.Secret{
		Name: SecretRoot,
		Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: inline(b.rootPEM),
		}},
	}
	for _, s := range []*tlsv3.Secret{workload, root} {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("SDS secret %s: %w", s.Name, err)
		}
	}
	return []types.Resource{workload, root}, nil
}

func inline(data []byte) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: data}}
}
