package meshca

import (
	"fmt"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"google.golang.org/grpc/codes"
)

// outcome is where a CertificateRequest stands, read from its status as cert-manager
// documents it.
type outcome int

const (
	outcomePending outcome = iota
	outcomeIssued
	outcomeFailed
)

// requestFailure is a request cert-manager (or an approver) finished without a certificate.
type requestFailure struct {
	request string
	reason  string // Denied, InvalidRequest or Failed
	message string
}

func (f *requestFailure) Error() string {
	return fmt.Sprintf("CertificateRequest %s: %s: %s", f.request, f.reason, f.message)
}

// code is the gRPC code a caller gets for the failure.
func (f *requestFailure) code() codes.Code {
	switch f.reason {
	case cmapi.CertificateRequestReasonDenied:
		return codes.PermissionDenied
	case string(cmapi.CertificateRequestConditionInvalidRequest):
		return codes.InvalidArgument
	default:
		return codes.Internal
	}
}

// outcomeOf reads a request's conditions: Denied=True or InvalidRequest=True are final
// refusals; Ready=True with status.certificate is issued; Ready=False with reason Failed,
// Denied or InvalidRequest is a failure; anything else (no condition yet, reason Pending)
// is still pending.
func outcomeOf(cr *cmapi.CertificateRequest) (outcome, *requestFailure) {
	if c := condition(cr, cmapi.CertificateRequestConditionDenied); c != nil && c.Status == cmmeta.ConditionTrue {
		return outcomeFailed, &requestFailure{reason: cmapi.CertificateRequestReasonDenied, message: messageOr(c.Message, "denied by an approver")}
	}
	if c := condition(cr, cmapi.CertificateRequestConditionInvalidRequest); c != nil && c.Status == cmmeta.ConditionTrue {
		return outcomeFailed, &requestFailure{reason: string(cmapi.CertificateRequestConditionInvalidRequest), message: messageOr(c.Message, c.Reason)}
	}
	ready := condition(cr, cmapi.CertificateRequestConditionReady)
	if ready == nil {
		return outcomePending, nil
	}
	switch {
	case ready.Status == cmmeta.ConditionTrue && len(cr.Status.Certificate) > 0:
		return outcomeIssued, nil
	case ready.Status != cmmeta.ConditionFalse:
		return outcomePending, nil
	}
	switch ready.Reason {
	case cmapi.CertificateRequestReasonFailed, cmapi.CertificateRequestReasonDenied, string(cmapi.CertificateRequestConditionInvalidRequest):
		return outcomeFailed, &requestFailure{reason: ready.Reason, message: messageOr(ready.Message, "no message")}
	}
	return outcomePending, nil
}

func condition(cr *cmapi.CertificateRequest, t cmapi.CertificateRequestConditionType) *cmapi.CertificateRequestCondition {
	for i := range cr.Status.Conditions {
		if cr.Status.Conditions[i].Type == t {
			return &cr.Status.Conditions[i]
		}
	}
	return nil
}

func messageOr(msg, fallback string) string {
	if msg == "" {
		return fallback
	}
	return msg
}
