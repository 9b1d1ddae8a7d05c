package kubectlmesh

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/devcluster"
	"loom.dev/loom/internal/golden"
)

// TestStatusAgainstAPIServer runs the real command, with its kubectl flags, against a real
// kube-apiserver that serves Loom's CRDs: the objects round-trip through the CRD schema.
func TestStatusAgainstAPIServer(t *testing.T) {
	ctx := context.Background()
	cluster, err := devcluster.Start(ctx, devcluster.Options{CRDDirectoryPaths: []string{"../../config/crd/bases"}})
	if err != nil {
		t.Fatalf("starting kube-apiserver: %v", err)
	}
	t.Cleanup(func() {
		if err := cluster.Stop(); err != nil {
			t.Errorf("stopping the cluster: %v", err)
		}
	})
	c, err := client.New(cluster.Config, client.Options{Scheme: Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	createWithStatus(ctx, t, c, clusterObjects())

	for name, args := range map[string][]string{
		"status-apiserver.txt":  {"status", "demo"},
		"version-apiserver.txt": {"version"},
	} {
		var out, errOut bytes.Buffer
		cmd := NewCommand(genericiooptions.IOStreams{Out: &out, ErrOut: &errOut})
		cmd.SetArgs(append([]string{"--kubeconfig", cluster.KubeconfigPath, "-n", "demo"}, args...))
		if err := cmd.ExecuteContext(ctx); err != nil {
			t.Fatalf("kubectl mesh %s: %v (%s)", strings.Join(args, " "), err, errOut.String())
		}
		got := strings.ReplaceAll(out.String(), goVersion(), "GOVERSION")
		golden.Assert(t, filepath.Join("testdata", name), []byte(got))
	}
}

// createWithStatus creates the objects (and their namespaces) and then writes their status,
// as the operator does through the status subresource.
func createWithStatus(ctx context.Context, t *testing.T, c client.Client, objs []client.Object) {
	t.Helper()
	for _, ns := range []string{"loom-system", "demo"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, obj := range objs {
		withStatus := obj.DeepCopyObject().(client.Object)
		obj.SetCreationTimestamp(metav1.Time{})
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
		switch o := withStatus.(type) {
		case *operatorv1alpha1.MeshOperator:
			o.ObjectMeta = *obj.(*operatorv1alpha1.MeshOperator).ObjectMeta.DeepCopy()
			o.Status.ObservedGeneration = o.Generation
			for i := range o.Status.Conditions {
				o.Status.Conditions[i].ObservedGeneration = o.Generation
			}
		case *operatorv1alpha1.MeshRevision:
			o.ObjectMeta = *obj.(*operatorv1alpha1.MeshRevision).ObjectMeta.DeepCopy()
		default:
			continue
		}
		if err := c.Status().Update(ctx, withStatus); err != nil {
			t.Fatalf("writing the status of %T %s: %v", withStatus, withStatus.GetName(), err)
		}
	}
}
