package meshca

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"loom.dev/loom/pkg/ca"
)

// workloadUsages are the key usages asked for a workload certificate (mTLS both ways).
var workloadUsages = []cmapi.KeyUsage{cmapi.UsageClientAuth, cmapi.UsageServerAuth, cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment}

// cmIssuer issues workload certificates through a cert-manager issuer (mode CertManager).
type cmIssuer struct {
	requester *cmRequester
	// bundle is the trust bundle learnt from the issuer (nil until known); it ends a chain
	// whose request came back without status.ca.
	bundle *atomic.Pointer[[]byte]
}

func (c *cmIssuer) issueWorkload(ctx context.Context, csrPEM []byte, csr *x509.CertificateRequest, id ca.Identity, ttl time.Duration) ([]string, error) {
	// The issuer signs what the CSR asks for, so the CSR must ask for the caller's id.
	if len(csr.URIs) != 1 {
		return nil, status.Errorf(codes.InvalidArgument, "csr: must carry the caller's identity %s as its URI SAN (mode CertManager forwards the CSR to the issuer as is)", id)
	}
	got, err := c.requester.request(ctx, certRequest{
		csrPEM: csrPEM, ttl: ttl, usages: workloadUsages,
		labels:      map[string]string{labelPurpose: purposeWorkload, labelWorkloadNamespace: id.Namespace, labelWorkloadSA: id.ServiceAccount},
		annotations: map[string]string{annotationIdentity: id.String()},
	})
	if err != nil {
		return nil, requestStatus(err)
	}
	var known []byte
	if b := c.bundle.Load(); b != nil {
		known = *b
	}
	chain, err := istioChain(got.certificate, got.ca, known)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "CertificateRequest %s: %v", got.name, err)
	}
	if err := checkWorkloadLeaf(chain[0], id); err != nil {
		return nil, status.Errorf(codes.Internal, "CertificateRequest %s: %v", got.name, err)
	}
	return chain, nil
}

// requestStatus turns a request's error into the caller's gRPC status.
func requestStatus(err error) error {
	var failure *requestFailure
	var pending *pendingError
	switch {
	case errors.As(err, &failure):
		return status.Error(failure.code(), failure.Error())
	case errors.As(err, &pending) && errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.As(err, &pending):
		return status.Error(codes.DeadlineExceeded, err.Error())
	default:
		return status.Error(codes.Unavailable, err.Error())
	}
}

// istioChain is Istio's chain from an issued request: the certificates of
// status.certificate (leaf first), then the root(s) of status.ca, or of known when the
// issuer left status.ca empty, unless status.certificate already ends with them.
func istioChain(certificate, caPEM, known []byte) ([]string, error) {
	chain, err := splitCertsPEM(certificate)
	if err != nil {
		return nil, fmt.Errorf("status.certificate: %w", err)
	}
	if len(chain) == 0 {
		return nil, errors.New("status.certificate holds no certificate")
	}
	rootsFrom, roots := "status.ca", caPEM
	if len(bytes.TrimSpace(caPEM)) == 0 {
		rootsFrom, roots = "the known trust bundle", known
	}
	rootList, err := splitCertsPEM(roots)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rootsFrom, err)
	}
	if len(rootList) == 0 {
		return nil, errors.New("the issuer set no status.ca and no trust bundle is known yet, so the chain has no root")
	}
	for _, r := range rootList {
		if !slices.Contains(chain, r) {
			chain = append(chain, r)
		}
	}
	return chain, nil
}

// splitCertsPEM returns each CERTIFICATE block of data as its own PEM string, checking
// that each parses; other blocks are refused.
func splitCertsPEM(data []byte) ([]string, error) {
	var out []string
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				return nil, errors.New("holds data that is not PEM")
			}
			return out, nil
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a PEM block %q, want CERTIFICATE", b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out)+1, err)
		}
		out = append(out, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes})))
	}
}

// checkWorkloadLeaf refuses a certificate the issuer made for anything but id: an issuer
// that adds names would hand the caller an identity it was not authenticated for.
func checkWorkloadLeaf(leafPEM string, id ca.Identity) error {
	b, _ := pem.Decode([]byte(leafPEM))
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return fmt.Errorf("leaf: %w", err)
	}
	switch {
	case len(leaf.URIs) != 1 || leaf.URIs[0].String() != id.String():
		return fmt.Errorf("the issuer returned a certificate for URIs %v, want exactly [%s]", leaf.URIs, id)
	case len(leaf.DNSNames)+len(leaf.EmailAddresses)+len(leaf.IPAddresses) > 0:
		return fmt.Errorf("the issuer returned a certificate for %s that also names DNS %v, email %v, IP %v", id, leaf.DNSNames, leaf.EmailAddresses, leaf.IPAddresses)
	}
	return nil
}
