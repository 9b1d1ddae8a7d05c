package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/controllers"
	"loom.dev/loom/internal/operator"
	"loom.dev/loom/pkg/apply"
	"loom.dev/loom/pkg/render"
)

// benchRuns names each benchmark run's mesh apart: the previous one may still be finalizing.
var benchRuns int

// BenchmarkNoOpReconcile measures one reconcile of a Ready mesh whose spec did not change:
// render, server-side apply of every object (no-op patches), prune, readiness and status,
// against the real apiserver with the operator's cached client.
func BenchmarkNoOpReconcile(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	benchRuns++
	name := fmt.Sprintf("bench-%d", benchRuns)
	mesh := &operatorv1alpha1.MeshOperator{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       operatorv1alpha1.MeshOperatorSpec{Namespace: name},
	}
	if err := k8sClient.Create(ctx, mesh); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = k8sClient.Delete(context.Background(), mesh) }()

	scheme := operator.Scheme()
	opts := controllers.CacheOptions()
	opts.Scheme = scheme
	c, err := cache.New(cluster.Config, opts)
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	cl, err := client.New(cluster.Config, client.Options{Scheme: scheme, Cache: &client.CacheOptions{Reader: c}})
	if err != nil {
		b.Fatal(err)
	}
	renderer, err := render.New()
	if err != nil {
		b.Fatal(err)
	}
	r := &controllers.MeshOperatorReconciler{Client: cl, Renderer: renderer, Applier: &apply.Applier{Client: cl}}
	req := ctrl.Request{NamespacedName: types.NamespacedName{Name: name}}

	// The running operator installs the mesh; wait until it is Ready and the cache has it.
	deadline := time.Now().Add(time.Minute)
	for {
		got := &operatorv1alpha1.MeshOperator{}
		if err := cl.Get(ctx, client.ObjectKey{Name: name}, got); err == nil && got.Status.Version != "" {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("mesh never became Ready")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The first reconcile starts the cache's informers; b.Loop times only what follows.
	if _, err := r.Reconcile(ctx, req); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := r.Reconcile(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
