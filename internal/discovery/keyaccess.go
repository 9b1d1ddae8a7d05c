package discovery

import (
	"context"
	"fmt"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"loom.dev/loom/pkg/ca"
)

// keyAccessTTL is how long a SubjectAccessReview's answer is reused: a revoked permission
// stops keys from being sent at the latest this long after, at the next push.
const keyAccessTTL = time.Minute

// keyAccess decides, with SubjectAccessReviews as istiod does, whether an authenticated
// proxy's ServiceAccount may get a Secret of its own namespace, and so be sent its key.
type keyAccess struct {
	client kubernetes.Interface
	clock  clock.PassiveClock
	ctx    context.Context

	mu      sync.Mutex
	answers map[keyAccessQuestion]keyAccessAnswer
}

type keyAccessQuestion struct {
	id     ca.Identity
	secret string
}

type keyAccessAnswer struct {
	err     error
	expires time.Time
}

// forIdentity is the model.Proxy KeyAccess of a proxy authenticated as id.
func (k *keyAccess) forIdentity(id ca.Identity) func(secret string) error {
	return func(secret string) error { return k.allowed(id, secret) }
}

func (k *keyAccess) allowed(id ca.Identity, secret string) error {
	q := keyAccessQuestion{id, secret}
	now := k.clock.Now()
	k.mu.Lock()
	if a, ok := k.answers[q]; ok && now.Before(a.expires) {
		k.mu.Unlock()
		return a.err
	}
	k.mu.Unlock()
	err, final := k.review(id, secret)
	if !final {
		return err // the apiserver did not answer: ask again next time
	}
	k.mu.Lock()
	k.answers[q] = keyAccessAnswer{err: err, expires: now.Add(keyAccessTTL)}
	for old, a := range k.answers {
		if !now.Before(a.expires) {
			delete(k.answers, old)
		}
	}
	k.mu.Unlock()
	return err
}

// review asks the apiserver; final is false when it could not answer.
func (k *keyAccess) review(id ca.Identity, secret string) (err error, final bool) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:" + id.Namespace + ":" + id.ServiceAccount,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + id.Namespace, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: id.Namespace, Verb: "get", Resource: "secrets", Name: secret,
		},
	}}
	out, err := k.client.AuthorizationV1().SubjectAccessReviews().Create(k.ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("cannot check whether ServiceAccount %s/%s may get Secret %s: %w", id.Namespace, id.ServiceAccount, secret, err), false
	}
	if !out.Status.Allowed {
		return fmt.Errorf("ServiceAccount %s/%s may not get Secret %s/%s (RBAC)", id.Namespace, id.ServiceAccount, id.Namespace, secret), true
	}
	return nil, true
}
