package discovery

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"loom.dev/loom/internal/devcluster"
)

// TestEndpointChangeSurvivesARebuildBeforeItsPush: an EndpointSlice change is noted for
// the quick endpoint push (5 ms window), and the model is also rebuilt for other reasons
// (the model refresher, the status writer). A rebuild that comes between the note and the
// endpoint push holds the new endpoints in the model, but the proxies do not have them yet:
// the endpoint push must still send them, instead of leaving them to the full push a whole
// debounce window later (the scale benchmark saw such changes take 150-180 ms).
func TestEndpointChangeSurvivesARebuildBeforeItsPush(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cluster, err := devcluster.Start(ctx, devcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	kube := kubernetes.NewForConfigOrDie(cluster.Config)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "default"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 9080}}}}
	if _, err := kube.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "reviews-1", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "reviews"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](9080)}},
	}
	if slice, err = kube.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	p, err := newPipeline(ctx, cluster.Config, Options{RootNamespace: "istio-system", DomainSuffix: "cluster.local", Logger: logr.Discard()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	noted := make(chan struct{}, 100)
	if err := p.watch(ctx, func() {}, func() { noted <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cache.Start(ctx) }()
	if !p.cache.WaitForCacheSync(ctx) {
		t.Fatal("cache never synced")
	}
	snaps := p.generator.snapshots
	snaps.get(ctx)
	snaps.endpointChanges(ctx) // what the initial adds noted
	for len(noted) > 0 {
		<-noted
	}

	slice.Endpoints[0].Addresses = []string{"10.1.0.2"}
	if _, err := kube.DiscoveryV1().EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-noted:
	case <-time.After(time.Minute):
		t.Fatal("the EndpointSlice change was never noted")
	}
	snaps.get(ctx) // the rebuild that comes first

	_, changed := snaps.endpointChanges(ctx)
	if len(changed) != 1 || changed[0].Name != "reviews" || len(changed[0].Endpoints) != 1 || changed[0].Endpoints[0].Address != "10.1.0.2" {
		t.Fatalf("endpoint push after a rebuild: changed %v, want reviews at 10.1.0.2 (a rebuild must not drop the noted change)", changed)
	}
}
