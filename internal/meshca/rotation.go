package meshca

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"loom.dev/loom/pkg/ca"
)

// RotateRootAnnotation on SelfSignedSecret asks for a rotation of the self-signed root:
// setting it to a value not handled before begins one (once the running one, if any, ended).
const RotateRootAnnotation = "loom.dev/rotate-root"

// rotateRootHandledAnnotation is the last value of RotateRootAnnotation acted on.
const rotateRootHandledAnnotation = "loom.dev/rotate-root-handled"

// rootRenewBefore: a self-signed root is rotated by itself when less than this is left.
const rootRenewBefore = 365 * 24 * time.Hour

// rootRotation rotates the self-signed root with an overlap: the new root joins the trust
// bundle, the signer switches to it once every connected proxy acknowledged that bundle,
// and the old root leaves the bundle once no certificate it signed can still be valid.
type rootRotation struct {
	// maxTTL is the longest workload certificate the CA issues.
	maxTTL time.Duration
	// acknowledged says whether every connected proxy holds the trust bundle (PEM roots,
	// in the order served) and, if not, what it waits for.
	acknowledged func(ctx context.Context, bundle []byte) (bool, string)
	log          logr.Logger

	mu     sync.Mutex
	status RotationStatus
}

// RotationStatus is where the root rotation stands, for the CA state the operator reports.
type RotationStatus struct {
	Phase   ca.RotationPhase
	Message string
}

func (r *rootRotation) current() RotationStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *rootRotation) report(phase ca.RotationPhase, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = RotationStatus{Phase: phase, Message: message}
}

// step takes the next step of the rotation on the Secret and returns the updated Secret,
// or nil when there is nothing to do yet.
func (r *rootRotation) step(ctx context.Context, s *selfSignedStore, secret *corev1.Secret, m *selfSignedMaterial, now time.Time) (*corev1.Secret, error) {
	request := secret.Annotations[RotateRootAnnotation]
	in := ca.RotationInputs{Now: now, RenewBefore: rootRenewBefore,
		Requested: request != "" && request != secret.Annotations[rotateRootHandledAnnotation]}
	waiting := ""
	if m.phase() == ca.RotationDistributing {
		in.NewBundleAcknowledged, waiting = r.acknowledged(ctx, joinPEM(m.bundle()))
	}
	step, reason := ca.NextRotationStep(ca.RotationState{Phase: m.phase(), Root: m.root.Cert, RetireAfter: m.retireAfter}, in)
	if step == ca.StepNone {
		if waiting != "" {
			reason += ": " + waiting
		}
		r.report(m.phase(), reason)
		return nil, nil
	}
	secret = secret.DeepCopy()
	next := ca.RotationIdle
	switch step {
	case ca.StepBegin:
		root, err := ca.NewRoot(s.trustDomain, s.alg, rootTTL, now)
		if err != nil {
			return nil, fmt.Errorf("rotate the root: %w", err)
		}
		inter, err := ca.NewIntermediate(root, s.trustDomain, s.alg, intermediateTTL, now)
		if err != nil {
			return nil, fmt.Errorf("rotate the root: %w", err)
		}
		secret.Data[keyNextRootCert], secret.Data[keyNextRootKey] = root.CertPEM, root.KeyPEM
		secret.Data[keyNextCACert], secret.Data[keyNextCAKey] = inter.CertPEM, inter.KeyPEM
		if in.Requested {
			metav1.SetMetaDataAnnotation(&secret.ObjectMeta, rotateRootHandledAnnotation, request)
		}
		next = ca.RotationDistributing
	case ca.StepSwitch:
		secret.Data[keyPreviousRootCert] = m.root.CertPEM
		secret.Data[keyPreviousRetireAfter] = []byte(ca.RetireAfter(now, r.maxTTL).UTC().Format(time.RFC3339))
		secret.Data[keyRootCert], secret.Data[keyRootKey] = m.nextRoot.CertPEM, m.nextRoot.KeyPEM
		secret.Data[keyCACert], secret.Data[keyCAKey] = m.nextInter.CertPEM, m.nextInter.KeyPEM
		for _, k := range []string{keyNextRootCert, keyNextRootKey, keyNextCACert, keyNextCAKey} {
			delete(secret.Data, k)
		}
		next = ca.RotationRetiring
	case ca.StepRetire:
		delete(secret.Data, keyPreviousRootCert)
		delete(secret.Data, keyPreviousRetireAfter)
	}
	updated, err := s.client.CoreV1().Secrets(s.namespace).Update(ctx, secret, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("root rotation step %s: %w", step, err)
	}
	r.log.Info("root rotation", "step", step, "reason", reason, "phase", next)
	r.report(next, reason)
	return updated, nil
}
