package discovery

import (
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"loom.dev/loom/internal/meshca"
	"loom.dev/loom/pkg/xds"
)

// secureServer is port 15012: Istio's CSR API and xDS over TLS, with the CA's own serving
// certificate. Every xDS stream there is authenticated by the caller's ServiceAccount token;
// only there may a gateway be sent the private keys of its credentials.
type secureServer struct {
	grpc     *grpc.Server
	listener net.Listener
}

func newSecureServer(address string, authority *meshca.Authority, xdsServer *xds.Server) (*secureServer, error) {
	lis, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("secure (CA and xDS over TLS) listener: %w", err)
	}
	s := grpc.NewServer(append(xds.GRPCServerOptions(),
		grpc.Creds(credentials.NewTLS(authority.TLSConfig())),
		grpc.ChainStreamInterceptor(authority.StreamAuthenticator()),
		grpc.MaxConcurrentStreams(100000),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)...)
	authority.Register(s)
	xdsServer.Register(s)
	return &secureServer{grpc: s, listener: lis}, nil
}

func (s *secureServer) serve() error { return ignoreClosed(s.grpc.Serve(s.listener)) }

func (s *secureServer) stop() { s.grpc.Stop() }
