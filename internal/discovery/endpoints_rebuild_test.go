package discovery

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"loom.dev/loom/internal/devcluster"
	"loom.dev/loom/pkg/model"
)

// TestEndpointChangeSurvivesARebuildBeforeItsPush: an EndpointSlice change is noted for
// the quick endpoint push (5 ms window), and the model is also rebuilt for other reasons
// (the model refresher, the status writer). A rebuild that comes between the note and the
// endpoint push holds the new endpoints in the model, but the proxies do not have them yet:
// the endpoint push must still send them, instead of leaving them to the full push a whole
// debounce window later (the scale benchmark saw such changes take 150-180 ms). Notes a
// full push delivered, or that the initial list made, are not pushed again.
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
	// An EndpointSlice change is noted for the endpoint push, then marks the model stale.
	noted, stale := make(chan struct{}, 100), make(chan struct{}, 100)
	if err := p.watch(ctx, func() { stale <- struct{}{} }, func() { noted <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cache.Start(ctx) }()
	if !p.cache.WaitForCacheSync(ctx) {
		t.Fatal("cache never synced")
	}
	snaps := p.generator.snapshots
	// Only reviews' changes count below: the apiserver may still write the kubernetes
	// Service's EndpointSlice.
	reviews := func(changed []*model.Service) *model.Service {
		for _, svc := range changed {
			if svc.Namespace == "default" && svc.Name == "reviews" {
				return svc
			}
		}
		return nil
	}
	// The initial list's add of reviews-1 is noted.
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		snaps.pendingMu.Lock()
		defer snaps.pendingMu.Unlock()
		_, ok := snaps.pendingEndpoints["default/reviews"]
		return ok, nil
	}); err != nil {
		t.Fatal("the initial EndpointSlice was never noted")
	}
	// What the initial list noted goes with the ready push, which regenerates every view.
	snaps.dropEndpointNotes()
	snaps.get(ctx)
	if _, changed := snaps.endpointChanges(ctx); reviews(changed) != nil {
		t.Fatal("a change noted before ready is left for the first endpoint push")
	}
	for len(noted) > 0 || len(stale) > 0 {
		select {
		case <-noted:
		case <-stale:
		}
	}

	moveTo := func(address string) {
		t.Helper()
		slice.Endpoints[0].Addresses = []string{address}
		if slice, err = kube.DiscoveryV1().EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, ch := range []chan struct{}{noted, stale} {
			select {
			case <-ch:
			case <-time.After(time.Minute):
				t.Fatal("the EndpointSlice change was never noted")
			}
		}
	}
	moveTo("10.1.0.2")
	snaps.get(ctx) // the rebuild that comes first
	_, changed := snaps.endpointChanges(ctx)
	if svc := reviews(changed); svc == nil || len(svc.Endpoints) != 1 || svc.Endpoints[0].Address != "10.1.0.2" {
		t.Fatalf("endpoint push after a rebuild: changed %v, want reviews at 10.1.0.2 (a rebuild must not drop the noted change)", changed)
	}

	// A push that regenerates every view from a model holding the change delivers it: the
	// endpoint push has nothing left to do.
	moveTo("10.1.0.3")
	// The push's model is the first rebuilt after both the note and the stale mark.
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		if scope := p.generator.PushScope(); scope != nil {
			t.Fatal("an EndpointSlice change did not scope the push to every view")
		}
		snaps.mu.Lock()
		svc := reviews(snaps.current.Services()) // the model PushScope's push regenerates from
		snaps.mu.Unlock()
		return !snaps.dirty.Load() && svc != nil && len(svc.Endpoints) == 1 && svc.Endpoints[0].Address == "10.1.0.3", nil
	}); err != nil {
		t.Fatal("the model never held reviews at 10.1.0.3")
	}
	if _, changed := snaps.endpointChanges(ctx); reviews(changed) != nil {
		t.Error("a change a full push delivered is pushed again")
	}
}
