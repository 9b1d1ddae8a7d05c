package meshca

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
)

// watchSecret calls changed whenever the named Secret is added, updated or deleted, until
// ctx is done. Only that Secret is listed and watched.
func watchSecret(ctx context.Context, client kubernetes.Interface, namespace, name string, changed func()) {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 10*time.Minute,
		informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}))
	inf := factory.Core().V1().Secrets().Informer()
	_, _ = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { changed() },
		UpdateFunc: func(old, cur any) {
			if old.(*corev1.Secret).ResourceVersion != cur.(*corev1.Secret).ResourceVersion {
				changed()
			}
		},
		DeleteFunc: func(any) { changed() },
	})
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
}
