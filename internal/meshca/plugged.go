package meshca

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/pkg/ca"
)

// pluggedStore loads the user's CA from a Secret with Istio's cacerts key names.
type pluggedStore struct {
	client    kubernetes.Interface
	namespace string
	name      string
}

func (s *pluggedStore) load(ctx context.Context, now time.Time) (*ca.Signer, error) {
	secret, err := s.client.CoreV1().Secrets(s.namespace).Get(ctx, s.name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("plugged CA secret %s/%s: %w", s.namespace, s.name, err)
	}
	signer, err := ca.LoadPlugged(secret.Data, now)
	if err != nil {
		return nil, fmt.Errorf("plugged CA secret %s/%s: %w", s.namespace, s.name, err)
	}
	return signer, nil
}
