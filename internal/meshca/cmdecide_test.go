package meshca

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"loom.dev/loom/pkg/ca"
)

func withConditions(cert string, conds ...cmapi.CertificateRequestCondition) *cmapi.CertificateRequest {
	cr := &cmapi.CertificateRequest{}
	cr.Status.Conditions = conds
	cr.Status.Certificate = []byte(cert)
	return cr
}

func cond(t cmapi.CertificateRequestConditionType, s cmmeta.ConditionStatus, reason, msg string) cmapi.CertificateRequestCondition {
	return cmapi.CertificateRequestCondition{Type: t, Status: s, Reason: reason, Message: msg}
}

// TestOutcomeOf: cert-manager's conditions, read as cert-manager documents them.
func TestOutcomeOf(t *testing.T) {
	const (
		ready    = cmapi.CertificateRequestConditionReady
		approved = cmapi.CertificateRequestConditionApproved
		denied   = cmapi.CertificateRequestConditionDenied
		invalid  = cmapi.CertificateRequestConditionInvalidRequest
		yes, no  = cmmeta.ConditionTrue, cmmeta.ConditionFalse
	)
	for _, tc := range []struct {
		name    string
		cr      *cmapi.CertificateRequest
		want    outcome
		reason  string
		message string
		code    codes.Code
	}{
		{"new", withConditions(""), outcomePending, "", "", 0},
		{"approved only", withConditions("", cond(approved, yes, "policy", "ok")), outcomePending, "", "", 0},
		{"ready pending", withConditions("", cond(approved, yes, "", ""), cond(ready, no, cmapi.CertificateRequestReasonPending, "waiting on vault")), outcomePending, "", "", 0},
		{"ready unknown", withConditions("", cond(ready, cmmeta.ConditionUnknown, "", "")), outcomePending, "", "", 0},
		{"ready true without certificate yet", withConditions("", cond(ready, yes, cmapi.CertificateRequestReasonIssued, "")), outcomePending, "", "", 0},
		{"issued", withConditions("PEM", cond(approved, yes, "", ""), cond(ready, yes, cmapi.CertificateRequestReasonIssued, "")), outcomeIssued, "", "", 0},
		{"denied before the issuer saw it", withConditions("", cond(denied, yes, "policy", "no such identity allowed")), outcomeFailed, "Denied", "no such identity allowed", codes.PermissionDenied},
		{"denied by the issuer", withConditions("", cond(denied, yes, "policy", ""), cond(ready, no, cmapi.CertificateRequestReasonDenied, "denied")), outcomeFailed, "Denied", "denied by an approver", codes.PermissionDenied},
		{"invalid request", withConditions("", cond(invalid, yes, "BadCSR", "csr has no key")), outcomeFailed, "InvalidRequest", "csr has no key", codes.InvalidArgument},
		{"ready false invalid", withConditions("", cond(ready, no, "InvalidRequest", "bad duration")), outcomeFailed, "InvalidRequest", "bad duration", codes.InvalidArgument},
		{"failed", withConditions("", cond(approved, yes, "", ""), cond(ready, no, cmapi.CertificateRequestReasonFailed, "key offline")), outcomeFailed, "Failed", "key offline", codes.Internal},
		{"failed without message", withConditions("", cond(ready, no, cmapi.CertificateRequestReasonFailed, "")), outcomeFailed, "Failed", "no message", codes.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, failure := outcomeOf(tc.cr)
			if got != tc.want {
				t.Fatalf("outcome %d, want %d", got, tc.want)
			}
			if (failure != nil) != (tc.want == outcomeFailed) {
				t.Fatalf("failure %v for outcome %d", failure, got)
			}
			if failure == nil {
				return
			}
			if failure.reason != tc.reason || failure.message != tc.message || failure.code() != tc.code {
				t.Fatalf("failure %q %q %s, want %q %q %s", failure.reason, failure.message, failure.code(), tc.reason, tc.message, tc.code)
			}
		})
	}
}

// TestIstioChain: leaf first, root last, the root not repeated, and no chain without one.
func TestIstioChain(t *testing.T) {
	signer, root := newTestCA(t)
	id := ca.Identity{TrustDomain: "cluster.local", Namespace: "a", ServiceAccount: "b"}
	csr, err := ca.ParseCSR(csrFor(t, id))
	if err != nil {
		t.Fatal(err)
	}
	full, err := signer.Sign(csr, id, time.Hour, time.Now()) // leaf, intermediate, root
	if err != nil {
		t.Fatal(err)
	}
	leafInter := []byte(full[0] + full[1])
	for _, tc := range []struct {
		name              string
		cert, caPEM, know []byte
		want              []string
		err               string
	}{
		{"status.ca", leafInter, root, nil, full, ""},
		{"status.ca wins over the known bundle", leafInter, root, []byte(full[1]), full, ""},
		{"certificate already ends with the root", []byte(strings.Join(full, "")), root, nil, full, ""},
		{"known bundle when status.ca is empty", leafInter, nil, root, full, ""},
		{"no root at all", leafInter, nil, nil, nil, "no trust bundle is known"},
		{"empty certificate", nil, root, nil, nil, "holds no certificate"},
		{"garbage certificate", []byte("not pem"), root, nil, nil, "not PEM"},
		{"key in certificate", []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), root, nil, nil, `"EC PRIVATE KEY"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := istioChain(tc.cert, tc.caPEM, tc.know)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("chain of %d entries is not leaf, intermediate, root", len(got))
			}
		})
	}
	if err := checkWorkloadLeaf(full[0], id); err != nil {
		t.Fatalf("the right leaf is refused: %v", err)
	}
	if err := checkWorkloadLeaf(full[0], ca.Identity{TrustDomain: "cluster.local", Namespace: "a", ServiceAccount: "c"}); err == nil {
		t.Fatal("a leaf for another identity is accepted")
	}
}

// TestRequestStatus: every way a request ends maps to a gRPC code that names it.
func TestRequestStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code codes.Code
	}{
		{&requestFailure{request: "m/x", reason: "Denied", message: "no"}, codes.PermissionDenied},
		{&requestFailure{request: "m/x", reason: "Failed", message: "no"}, codes.Internal},
		{&pendingError{request: "m/x", cause: context.DeadlineExceeded}, codes.DeadlineExceeded},
		{&pendingError{request: "m/x", cause: context.Canceled}, codes.Canceled},
		{errors.New("create CertificateRequest: forbidden"), codes.Unavailable},
	} {
		got := requestStatus(tc.err)
		if status.Code(got) != tc.code || status.Convert(got).Message() != tc.err.Error() {
			t.Fatalf("%v -> %v, want code %s with the same message", tc.err, got, tc.code)
		}
	}
}

func TestIssuerRef(t *testing.T) {
	for _, tc := range []struct {
		in   cmmeta.IssuerReference
		want cmmeta.IssuerReference
		err  string
	}{
		{cmmeta.IssuerReference{Name: "ca"}, cmmeta.IssuerReference{Name: "ca", Kind: "Issuer", Group: "cert-manager.io"}, ""},
		{cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer"}, cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}, ""},
		{cmmeta.IssuerReference{Name: "ext", Kind: "AWSPCAIssuer", Group: "awspca.cert-manager.io"}, cmmeta.IssuerReference{Name: "ext", Kind: "AWSPCAIssuer", Group: "awspca.cert-manager.io"}, ""},
		{cmmeta.IssuerReference{}, cmmeta.IssuerReference{}, "name is empty"},
		{cmmeta.IssuerReference{Name: "ca", Kind: "Certificate"}, cmmeta.IssuerReference{}, `kind "Certificate"`},
	} {
		got, err := issuerRef(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("%+v: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Fatalf("%+v -> %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
