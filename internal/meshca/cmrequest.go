package meshca

import (
	"context"
	"errors"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/typed/certmanager/v1"
	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/clock"
)

// Labels and annotation on the CertificateRequests the CA creates.
const (
	labelPurpose           = "loom.dev/ca-purpose"
	labelWorkloadNamespace = "loom.dev/workload-namespace"
	labelWorkloadSA        = "loom.dev/workload-service-account"
	annotationIdentity     = "loom.dev/identity"

	purposeWorkload = "workload"
	purposeServing  = "serving"
)

// staleRequestAge: a CertificateRequest of ours older than this was left behind by a
// replica that stopped mid-request (every request is deleted when it ends, and none waits
// this long), so it is deleted.
const staleRequestAge = 10 * time.Minute

// deleteTimeout bounds the deletion of a finished request, which runs after the caller's
// context may have ended.
const deleteTimeout = 10 * time.Second

// cmRequester asks a cert-manager issuer for certificates through CertificateRequests in
// the mesh namespace, waits for cert-manager's outcome and deletes each request after.
type cmRequester struct {
	client    cmclient.CertificateRequestInterface
	namespace string
	issuerRef cmmeta.IssuerReference
	clock     clock.PassiveClock
	log       logr.Logger
}

// certRequest is what to ask the issuer for.
type certRequest struct {
	csrPEM      []byte
	ttl         time.Duration
	usages      []cmapi.KeyUsage
	labels      map[string]string
	annotations map[string]string
}

// issued is the outcome of a request cert-manager marked Ready.
type issued struct {
	name        string
	certificate []byte // status.certificate: leaf and intermediates
	ca          []byte // status.ca: the issuer's CA, when the issuer sets it
}

// request creates a CertificateRequest, waits until it is Ready or has failed (or ctx
// ends), deletes it and returns its certificate. A refusal is a *requestFailure.
func (r *cmRequester) request(ctx context.Context, req certRequest) (*issued, error) {
	lbls := map[string]string{"app.kubernetes.io/managed-by": "loom-discovery"}
	for k, v := range req.labels {
		lbls[k] = v
	}
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "loom-ca-", Namespace: r.namespace, Labels: lbls, Annotations: req.annotations},
		Spec: cmapi.CertificateRequestSpec{
			Request:   req.csrPEM,
			Duration:  &metav1.Duration{Duration: req.ttl},
			Usages:    req.usages,
			IssuerRef: r.issuerRef,
		},
	}
	created, err := r.client.Create(ctx, cr, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create CertificateRequest in namespace %s for issuer %s: %w", r.namespace, r.issuerName(), err)
	}
	defer r.delete(created.Name)
	done, err := r.await(ctx, created)
	if err != nil {
		return nil, err
	}
	return &issued{name: done.Name, certificate: done.Status.Certificate, ca: done.Status.CA}, nil
}

func (r *cmRequester) issuerName() string {
	return fmt.Sprintf("%s %q (group %s)", r.issuerRef.Kind, r.issuerRef.Name, r.issuerRef.Group)
}

func (r *cmRequester) delete(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
	defer cancel()
	if err := r.client.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		r.log.Error(err, "CertificateRequest not deleted", "namespace", r.namespace, "name", name)
	}
}

// await follows the request (a watch on its name, started from the version last read)
// until its outcome; a watch that ends early is started again.
func (r *cmRequester) await(ctx context.Context, cr *cmapi.CertificateRequest) (*cmapi.CertificateRequest, error) {
	name := cr.Name
	for {
		switch o, failure := outcomeOf(cr); o {
		case outcomeIssued:
			return cr, nil
		case outcomeFailed:
			failure.request = fmt.Sprintf("%s/%s", r.namespace, name)
			return nil, failure
		}
		w, err := r.client.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: cr.ResourceVersion,
		})
		if err != nil {
			return nil, r.waitError(ctx, cr, err)
		}
		next, err := follow(ctx, w)
		w.Stop()
		if err != nil {
			return nil, r.waitError(ctx, cr, err)
		}
		if next == nil { // the watch ended: read the request again before watching anew
			if next, err = r.client.Get(ctx, name, metav1.GetOptions{}); err != nil {
				return nil, r.waitError(ctx, cr, err)
			}
		}
		cr = next
	}
}

// follow returns the request at its first event with an outcome, nil when the watch
// ended first, or an error when the request was deleted or ctx ended.
func follow(ctx context.Context, w watch.Interface) (*cmapi.CertificateRequest, error) {
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, nil
			}
			cr, isCR := ev.Object.(*cmapi.CertificateRequest)
			switch {
			case ev.Type == watch.Deleted:
				return nil, errors.New("it was deleted before cert-manager answered")
			case !isCR: // a watch error (e.g. the version expired): read it again
				return nil, nil
			}
			if o, _ := outcomeOf(cr); o != outcomePending {
				return cr, nil
			}
		}
	}
}

// waitError says which request was waited for, for how long, and where it stood.
func (r *cmRequester) waitError(ctx context.Context, last *cmapi.CertificateRequest, err error) error {
	waited := r.clock.Since(last.CreationTimestamp.Time).Round(time.Millisecond)
	where := "no Ready condition yet"
	if c := condition(last, cmapi.CertificateRequestConditionReady); c != nil {
		where = fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
	}
	if ctx.Err() != nil {
		return &pendingError{request: r.namespace + "/" + last.Name, issuer: r.issuerName(), waited: waited, where: where, cause: ctx.Err()}
	}
	return fmt.Errorf("CertificateRequest %s/%s for issuer %s (%s): %w", r.namespace, last.Name, r.issuerName(), where, err)
}

// pendingError: the issuer did not answer before the deadline.
type pendingError struct {
	request, issuer, where string
	waited                 time.Duration
	cause                  error
}

func (e *pendingError) Error() string {
	return fmt.Sprintf("CertificateRequest %s: issuer %s did not answer within %s (%s)", e.request, e.issuer, e.waited, e.where)
}

func (e *pendingError) Unwrap() error { return e.cause }

// sweepStale deletes this CA's requests older than staleRequestAge.
func (r *cmRequester) sweepStale(ctx context.Context) {
	list, err := r.client.List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{"app.kubernetes.io/managed-by": "loom-discovery"}).String()})
	if err != nil {
		r.log.Error(err, "listing CertificateRequests left behind", "namespace", r.namespace)
		return
	}
	for _, cr := range list.Items {
		if _, ours := cr.Labels[labelPurpose]; ours && r.clock.Since(cr.CreationTimestamp.Time) > staleRequestAge {
			r.delete(cr.Name)
		}
	}
}
