package kubectlmesh

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/internal/meshsettings"
	"loom.dev/loom/pkg/translate"
)

// assertTranslateMatchesDiscovery runs loom discovery's input side against the cluster, set
// up as its control plane's Deployment runs it (mesh.yaml from the ConfigMap the chart mounts,
// $POD_NAMESPACE as the root namespace), and checks that translate builds productpage's
// listeners, routes, clusters and endpoints exactly as discovery serves them.
func assertTranslateMatchesDiscovery(ctx context.Context, t *testing.T, cfg *rest.Config, c client.Client) {
	t.Helper()
	_, rendered := controlPlane(t, tunedControlPlane)
	var cm corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKey{Namespace: controlPlaneNamespace, Name: rendered.Name}, &cm); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(file, []byte(cm.Data["mesh.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := discovery.Options{RootNamespace: controlPlaneNamespace, DomainSuffix: "cluster.local", Logger: logr.Discard()}
	var err error
	if opts.Mesh, err = meshsettings.ReadFile(file); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	src, err := discovery.NewSource(runCtx, cfg, opts, func() {})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = src.Start(runCtx) }()
	syncCtx, syncCancel := context.WithTimeout(runCtx, 30*time.Second)
	defer syncCancel()
	if !src.WaitForCacheSync(syncCtx) {
		t.Fatal("discovery's caches did not sync")
	}
	var pod corev1.Pod
	if err := c.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "productpage-1"}, &pod); err != nil {
		t.Fatal(err)
	}
	node, err := nodeForPod(&pod, "cluster.local")
	if err != nil {
		t.Fatal(err)
	}
	key, err := src.ViewKey(node)
	if err != nil {
		t.Fatal(err)
	}
	served, err := src.Generate(key)
	if err != nil {
		t.Fatal(err)
	}
	built := pluginResources(t, c, "productpage-1", &meshFlags{})
	changes, err := diffResources(translate.Resources(served), built)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range changes {
		t.Errorf("translate's %s %s differs from discovery's (%s):\ndiscovery: %s\ntranslate: %s", ch.Type, ch.Name, ch.Change, ch.Before, ch.After)
	}
	if len(served[diffedTypes[1].typeURL]) == 0 {
		t.Error("discovery served productpage no routes: the comparison proves nothing")
	}
}
