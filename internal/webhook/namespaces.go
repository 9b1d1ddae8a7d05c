package webhook

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/inject"
)

// CachedNamespaces reads namespaces from an informer cache and falls back to the API for one
// the cache has not seen yet (created a moment before its first pod).
func CachedNamespaces(cached client.Reader, direct kubernetes.Interface) NamespaceGetter {
	return func(ctx context.Context, name string) (inject.Namespace, error) {
		ns := &corev1.Namespace{}
		err := cached.Get(ctx, client.ObjectKey{Name: name}, ns)
		if apierrors.IsNotFound(err) {
			ns, err = direct.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		}
		if err != nil {
			return inject.Namespace{}, err
		}
		return inject.Namespace{Name: ns.Name, Labels: ns.Labels}, nil
	}
}
