package meshca

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	securityapi "istio.io/api/security/v1alpha1"

	"loom.dev/loom/pkg/ca"
)

// clusterIDHeader is the metadata key Istio's agent names its cluster with.
const clusterIDHeader = "clusterid"

// certificateService serves istio.v1.auth.IstioCertificateService. The identity in every
// certificate is the caller's authenticated ServiceAccount, never what the CSR asks for.
type certificateService struct {
	securityapi.UnimplementedIstioCertificateServiceServer
	issuer workloadIssuer
	authn  interface {
		authenticate(context.Context, string) (ca.Identity, error)
	}
	clusterID string
	ttl       time.Duration
	metrics   *metrics
	log       logr.Logger
}

func (s *certificateService) CreateCertificate(ctx context.Context, req *securityapi.IstioCertificateRequest) (*securityapi.IstioCertificateResponse, error) {
	chain, result, err := s.create(ctx, req)
	s.metrics.requests.WithLabelValues(result).Inc()
	if err != nil {
		s.log.V(1).Info("certificate refused", "result", result, "error", err.Error())
		return nil, err
	}
	return &securityapi.IstioCertificateResponse{CertChain: chain}, nil
}

// create returns the chain or a gRPC status error, and the result label for the metric.
func (s *certificateService) create(ctx context.Context, req *securityapi.IstioCertificateRequest) ([]string, string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if ids := md.Get(clusterIDHeader); len(ids) > 0 && ids[0] != s.clusterID {
		return nil, resultUnauthenticated, status.Errorf(codes.Unauthenticated, "caller claims cluster %q; this CA serves cluster %q", ids[0], s.clusterID)
	}
	id, err := s.authn.authenticate(ctx, bearerToken(md))
	if err != nil {
		if errors.Is(err, errUnauthenticated) {
			return nil, resultUnauthenticated, status.Error(codes.Unauthenticated, err.Error())
		}
		return nil, resultError, status.Errorf(codes.Unavailable, "cannot authenticate the caller now: %v", err)
	}
	csr, err := ca.ParseCSR([]byte(req.GetCsr()))
	if err != nil {
		return nil, resultInvalidCSR, status.Errorf(codes.InvalidArgument, "csr: %v", err)
	}
	if err := ca.CheckRequestedIdentity(csr, id); err != nil {
		return nil, resultIdentityMismatch, status.Errorf(codes.PermissionDenied, "csr: %v", err)
	}
	ttl := s.ttl
	if v := req.GetValidityDuration(); v > 0 && time.Duration(v)*time.Second < ttl {
		ttl = time.Duration(v) * time.Second
	}
	chain, err := s.issuer.issueWorkload(ctx, []byte(req.GetCsr()), csr, id, ttl)
	if err != nil {
		return nil, resultError, err
	}
	return chain, resultIssued, nil
}

func bearerToken(md metadata.MD) string {
	for _, v := range md.Get("authorization") {
		if token, ok := strings.CutPrefix(v, "Bearer "); ok {
			return strings.TrimSpace(token)
		}
	}
	return ""
}
