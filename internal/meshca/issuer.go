package meshca

import (
	"context"
	"crypto/x509"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/utils/clock"

	"loom.dev/loom/pkg/ca"
)

// workloadIssuer issues the certificate chain for an authenticated caller's CSR (already
// checked to ask for nothing but id), leaf first and root last as Istio wants it. Its
// errors are gRPC status errors.
type workloadIssuer interface {
	issueWorkload(ctx context.Context, csrPEM []byte, csr *x509.CertificateRequest, id ca.Identity, ttl time.Duration) ([]string, error)
}

// localIssuer signs with the CA's own key (modes SelfSigned and Plugged).
type localIssuer struct {
	signer *atomic.Pointer[ca.Signer]
	clock  clock.PassiveClock
}

func (l *localIssuer) issueWorkload(_ context.Context, _ []byte, csr *x509.CertificateRequest, id ca.Identity, ttl time.Duration) ([]string, error) {
	signer := l.signer.Load()
	if signer == nil {
		return nil, status.Error(codes.Unavailable, "the mesh CA has no signing certificate yet")
	}
	chain, err := signer.Sign(csr, id, ttl, l.clock.Now())
	if err != nil {
		return nil, status.Errorf(codes.Internal, "sign: %v", err)
	}
	return chain, nil
}
