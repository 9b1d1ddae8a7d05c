package meshca

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/pkg/ca"
)

// SelfSignedSecret is the Secret, in the mesh namespace, that holds the self-signed root
// and the intermediate that signs workload certificates.
const SelfSignedSecret = "loom-ca"

// Keys of SelfSignedSecret. The intermediate uses Istio's names so the Secret reads like a
// cacerts Secret; the root's key is kept to renew the intermediate.
const (
	keyRootCert = "root-cert.pem"
	keyRootKey  = "root-key.pem"
	keyCACert   = "ca-cert.pem"
	keyCAKey    = "ca-key.pem"
)

// Lifetimes of the self-signed CA.
const (
	rootTTL         = 10 * 365 * 24 * time.Hour
	intermediateTTL = 365 * 24 * time.Hour
	// intermediateRenewBefore: the intermediate is replaced when less than this remains,
	// so that it always outlives the workload certificates it signs.
	intermediateRenewBefore = 30 * 24 * time.Hour
)

// selfSignedStore loads the self-signed CA from its Secret, creating it the first time.
// The root is never regenerated while the Secret exists: a Secret that cannot be read is
// an error to report, not a reason to start a new root that no proxy trusts.
type selfSignedStore struct {
	client      kubernetes.Interface
	namespace   string
	trustDomain string
	alg         ca.KeyAlgorithm
	rotation    *rootRotation // nil: the root is never rotated
}

func (s *selfSignedStore) load(ctx context.Context, now time.Time) (*ca.Signer, error) {
	for attempt := 0; ; attempt++ {
		secret, err := s.client.CoreV1().Secrets(s.namespace).Get(ctx, SelfSignedSecret, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			secret, err = s.create(ctx, now)
			if apierrors.IsAlreadyExists(err) && attempt < 3 {
				continue // another replica created it first: use theirs
			}
		}
		if err != nil {
			return nil, fmt.Errorf("secret %s/%s: %w", s.namespace, SelfSignedSecret, err)
		}
		m, err := parseSelfSigned(secret.Data)
		if err != nil {
			return nil, fmt.Errorf("secret %s/%s: %w (it is kept as is: delete it to start a new root that no existing workload trusts)", s.namespace, SelfSignedSecret, err)
		}
		updated, err := s.maintain(ctx, secret, m, now)
		if apierrors.IsConflict(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("secret %s/%s: %w", s.namespace, SelfSignedSecret, err)
		}
		if updated != nil {
			if m, err = parseSelfSigned(updated.Data); err != nil {
				return nil, err
			}
		}
		return m.signer(now)
	}
}

// maintain renews the intermediate that signs when it nears its end and takes the next
// step of a root rotation; it returns the updated Secret, or nil when nothing changed.
func (s *selfSignedStore) maintain(ctx context.Context, secret *corev1.Secret, m *selfSignedMaterial, now time.Time) (*corev1.Secret, error) {
	if m.inter.Cert.NotAfter.Sub(now) < intermediateRenewBefore {
		inter, err := ca.NewIntermediate(m.root, s.trustDomain, s.alg, intermediateTTL, now)
		if err != nil {
			return nil, fmt.Errorf("renew the intermediate: %w", err)
		}
		secret = secret.DeepCopy()
		secret.Data[keyCACert], secret.Data[keyCAKey] = inter.CertPEM, inter.KeyPEM
		updated, err := s.client.CoreV1().Secrets(s.namespace).Update(ctx, secret, metav1.UpdateOptions{})
		if err != nil {
			return nil, fmt.Errorf("renew the intermediate: %w", err)
		}
		return updated, nil
	}
	if s.rotation == nil {
		return nil, nil
	}
	return s.rotation.step(ctx, s, secret, m, now)
}

func (s *selfSignedStore) create(ctx context.Context, now time.Time) (*corev1.Secret, error) {
	root, err := ca.NewRoot(s.trustDomain, s.alg, rootTTL, now)
	if err != nil {
		return nil, err
	}
	inter, err := ca.NewIntermediate(root, s.trustDomain, s.alg, intermediateTTL, now)
	if err != nil {
		return nil, err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SelfSignedSecret, Namespace: s.namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "loom-discovery"}},
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			keyRootCert: root.CertPEM, keyRootKey: root.KeyPEM,
			keyCACert: inter.CertPEM, keyCAKey: inter.KeyPEM,
		},
	}
	return s.client.CoreV1().Secrets(s.namespace).Create(ctx, secret, metav1.CreateOptions{})
}
