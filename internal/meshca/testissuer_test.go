package meshca

import (
	"context"
	"encoding/pem"
	"errors"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/typed/certmanager/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"loom.dev/loom/pkg/ca"
)

// testIssuer stands in for cert-manager's controller and approver, which cannot be built
// here. It follows cert-manager's documented CertificateRequest contract for the requests
// naming its issuer: an approver first sets Approved=True (or Denied=True), then the
// issuer signs approved requests with a pkg/ca CA, honouring spec.duration and the names
// the CSR asks for, and sets status.certificate (leaf and intermediate), status.ca (the
// root) and Ready=True reason Issued; a denied request gets Ready=False reason Denied and a
// failed one Ready=False reason Failed, both with status.failureTime.
type testIssuer struct {
	client  cmclient.CertificateRequestInterface
	name    string
	signer  *ca.Signer
	rootPEM []byte
	omitCA  bool
	// verdict says, for a request, why to deny it or why signing fails ("" for neither).
	verdict func(*cmapi.CertificateRequest) (deny, fail string)

	mu   sync.Mutex
	seen map[string]cmapi.CertificateRequestSpec
	meta map[string]metav1.ObjectMeta
}

// newTestCA is a root and an intermediate that signs, as a cert-manager CA issuer has.
func newTestCA(t *testing.T) (*ca.Signer, []byte) {
	t.Helper()
	root, inter := testRootAndIntermediate(t)
	s, err := ca.NewSigner(inter, [][]byte{inter.CertPEM, root.CertPEM}, [][]byte{root.CertPEM}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s, root.CertPEM
}

// run answers requests until ctx ends.
func (ti *testIssuer) run(ctx context.Context, t *testing.T) {
	for ctx.Err() == nil {
		list, err := ti.client.List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range list.Items {
				if err := ti.handle(ctx, &list.Items[i]); err != nil && ctx.Err() == nil {
					t.Logf("test issuer: %s: %v", list.Items[i].Name, err)
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (ti *testIssuer) handle(ctx context.Context, cr *cmapi.CertificateRequest) error {
	if cr.Spec.IssuerRef.Name != ti.name || condition(cr, cmapi.CertificateRequestConditionReady) != nil {
		return nil // another issuer's, or finished
	}
	ti.record(cr)
	deny, fail := "", ""
	if ti.verdict != nil {
		deny, fail = ti.verdict(cr)
	}
	approved := condition(cr, cmapi.CertificateRequestConditionApproved) != nil
	denied := condition(cr, cmapi.CertificateRequestConditionDenied) != nil
	switch {
	case !approved && !denied && deny != "": // the approver
		setCondition(cr, cmapi.CertificateRequestConditionDenied, cmmeta.ConditionTrue, "test.approver", deny)
	case !approved && !denied:
		setCondition(cr, cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue, "test.approver", "approved by the test approver")
	case denied: // the issuer, on a denied request
		cr.Status.FailureTime = &metav1.Time{Time: time.Now()}
		setCondition(cr, cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonDenied, "The CertificateRequest was denied by an approval controller")
	case fail != "":
		cr.Status.FailureTime = &metav1.Time{Time: time.Now()}
		setCondition(cr, cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonFailed, fail)
	default:
		if err := ti.sign(cr); err != nil {
			cr.Status.FailureTime = &metav1.Time{Time: time.Now()}
			setCondition(cr, cmapi.CertificateRequestConditionReady, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonFailed, err.Error())
		} else {
			setCondition(cr, cmapi.CertificateRequestConditionReady, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued, "Certificate fetched from issuer successfully")
		}
	}
	_, err := ti.client.UpdateStatus(ctx, cr, metav1.UpdateOptions{})
	return err
}

// sign issues what the CSR asks for: its SPIFFE URI, or its DNS names.
func (ti *testIssuer) sign(cr *cmapi.CertificateRequest) error {
	csr, err := ca.ParseCSR(cr.Spec.Request)
	if err != nil {
		return err
	}
	ttl := ca.DefaultWorkloadTTL
	if cr.Spec.Duration != nil {
		ttl = cr.Spec.Duration.Duration
	}
	now := time.Now()
	var certs []string
	switch {
	case len(csr.URIs) == 1:
		id, err := ca.ParseIdentity(csr.URIs[0].String())
		if err != nil {
			return err
		}
		if certs, err = ti.signer.Sign(csr, id, ttl, now); err != nil {
			return err
		}
	case len(csr.DNSNames) > 0:
		der, err := ti.signer.SignServing(csr.PublicKey, csr.DNSNames, ttl, now)
		if err != nil {
			return err
		}
		for _, d := range der {
			certs = append(certs, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})))
		}
	default:
		return errors.New("the CSR names neither a URI nor DNS names")
	}
	certs = certs[:len(certs)-1] // the root goes to status.ca
	cr.Status.Certificate = nil
	for _, c := range certs {
		cr.Status.Certificate = append(cr.Status.Certificate, c...)
	}
	if !ti.omitCA {
		cr.Status.CA = ti.rootPEM
	}
	return nil
}

func (ti *testIssuer) record(cr *cmapi.CertificateRequest) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	if ti.seen == nil {
		ti.seen, ti.meta = map[string]cmapi.CertificateRequestSpec{}, map[string]metav1.ObjectMeta{}
	}
	ti.seen[cr.Name], ti.meta[cr.Name] = *cr.Spec.DeepCopy(), *cr.ObjectMeta.DeepCopy()
}

// requestsFor are the specs and metadata of the requests seen whose identity annotation is id.
func (ti *testIssuer) requestsFor(id string) (specs []cmapi.CertificateRequestSpec, metas []metav1.ObjectMeta) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	for name, m := range ti.meta {
		if m.Annotations[annotationIdentity] == id {
			specs, metas = append(specs, ti.seen[name]), append(metas, m)
		}
	}
	return specs, metas
}

func setCondition(cr *cmapi.CertificateRequest, t cmapi.CertificateRequestConditionType, s cmmeta.ConditionStatus, reason, msg string) {
	now := metav1.Now()
	c := cmapi.CertificateRequestCondition{Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: &now}
	for i := range cr.Status.Conditions {
		if cr.Status.Conditions[i].Type == t {
			cr.Status.Conditions[i] = c
			return
		}
	}
	cr.Status.Conditions = append(cr.Status.Conditions, c)
}
