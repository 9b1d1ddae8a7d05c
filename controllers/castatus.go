package controllers

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// Certificates expiring within expiryWarning make CertificatesExpiring True.
const expiryWarning = 30 * 24 * time.Hour

// caRecheck is how often the operator re-judges the CA's expiry against the clock; changes of
// the CA state ConfigMap itself are watched.
const caRecheck = time.Hour

// observeCA reads the CA state ConfigMap the control plane publishes in the mesh namespace;
// nil data when there is none yet.
func observeCA(ctx context.Context, reader client.Reader, namespace string) (map[string]string, error) {
	cm := &corev1.ConfigMap{}
	err := reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: operatorv1alpha1.CAStateConfigMap}, cm)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	return cm.Data, nil
}

// caJudgement is what the CA state says, as status.
type caJudgement struct {
	status                    *operatorv1alpha1.CAStatus
	ready, expiring           metav1.ConditionStatus
	readyReason, readyMsg     string
	expiringReason, expiryMsg string
}

// judgeCA turns the published CA state into status.ca and the CAReady and
// CertificatesExpiring conditions, at now.
func judgeCA(data map[string]string, now time.Time) caJudgement {
	if data == nil {
		msg := fmt.Sprintf("the control plane has not published its CA state (ConfigMap %s) yet", operatorv1alpha1.CAStateConfigMap)
		return caJudgement{ready: metav1.ConditionUnknown, readyReason: "NotReported", readyMsg: msg,
			expiring: metav1.ConditionUnknown, expiringReason: "NotReported", expiryMsg: msg}
	}
	j := caJudgement{status: &operatorv1alpha1.CAStatus{Mode: operatorv1alpha1.CAMode(data[operatorv1alpha1.CAStateKeyMode])}}
	roots, rootsErr := parseCerts(data[operatorv1alpha1.CAStateKeyRoots])
	chain, chainErr := parseCerts(data[operatorv1alpha1.CAStateKeyChain])
	switch problem := data[operatorv1alpha1.CAStateKeyProblem]; {
	case problem != "":
		j.ready, j.readyReason, j.readyMsg = metav1.ConditionFalse, "CAMaterialInvalid", problem
	case rootsErr != nil || chainErr != nil || len(chain) == 0:
		j.ready, j.readyReason, j.readyMsg = metav1.ConditionFalse, "CAStateUnreadable", fmt.Sprintf("ConfigMap %s: roots: %v; chain: %v", operatorv1alpha1.CAStateConfigMap, rootsErr, chainErr)
	default:
		j.ready, j.readyReason, j.readyMsg = metav1.ConditionTrue, "Signing", "the mesh CA signs workload certificates"
	}
	if phase := data[operatorv1alpha1.CAStateKeyRootRotationPhase]; phase != "" {
		j.status.RootRotation = &operatorv1alpha1.RootRotationStatus{Phase: phase, Message: data[operatorv1alpha1.CAStateKeyRootRotationMessage]}
	}
	var expiring []string
	if len(roots) > 0 {
		earliest := roots[0]
		for _, c := range roots[1:] {
			if c.NotAfter.Before(earliest.NotAfter) {
				earliest = c
			}
		}
		j.status.RootExpiresAt = &metav1.Time{Time: earliest.NotAfter}
		if earliest.NotAfter.Sub(now) < expiryWarning {
			expiring = append(expiring, fmt.Sprintf("root %q expires at %s", earliest.Subject.String(), earliest.NotAfter.UTC().Format(time.RFC3339)))
		}
	}
	if len(chain) > 0 {
		j.status.SigningCertExpiresAt = &metav1.Time{Time: chain[0].NotAfter}
		if chain[0].NotAfter.Sub(now) < expiryWarning {
			expiring = append(expiring, fmt.Sprintf("signing certificate %q expires at %s", chain[0].Subject.String(), chain[0].NotAfter.UTC().Format(time.RFC3339)))
		}
	}
	switch {
	case len(roots) == 0 && len(chain) == 0:
		j.expiring, j.expiringReason, j.expiryMsg = metav1.ConditionUnknown, "NoCertificates", "the control plane published no CA certificates"
	case len(expiring) > 0:
		j.expiring, j.expiringReason, j.expiryMsg = metav1.ConditionTrue, "ExpiresWithin30Days", strings.Join(expiring, "; ")
	default:
		j.expiring, j.expiringReason, j.expiryMsg = metav1.ConditionFalse, "Valid", "no CA certificate expires within 30 days"
	}
	return j
}

func parseCerts(data string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := []byte(data)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
