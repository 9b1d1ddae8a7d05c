package kubectlmesh

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/internal/devcluster"
	"loom.dev/loom/internal/golden"
	"loom.dev/loom/pkg/istiocrds"
)

// TestTranslateAndAnalyzeAgainstAPIServer runs translate and analyze, with their kubectl
// flags, against a real kube-apiserver serving Istio's CRDs: the cluster's objects come
// through the real client and CRD schemas, and the output is the same as over the fakes.
func TestTranslateAndAnalyzeAgainstAPIServer(t *testing.T) {
	ctx := context.Background()
	cluster, err := devcluster.Start(ctx, devcluster.Options{CRDDirectoryPaths: []string{"../../config/crd/bases", istioCRDDir(t)}})
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
	for _, ns := range []string{"demo", controlPlaneNamespace} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, obj := range withControlPlane(t, bookinfoWithSecret(), tunedControlPlane) {
		status := obj.DeepCopyObject().(client.Object)
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
		if pod, ok := status.(*corev1.Pod); ok {
			pod.ObjectMeta = obj.(*corev1.Pod).ObjectMeta
			if err := c.Status().Update(ctx, pod); err != nil {
				t.Fatalf("writing the status of pod %s: %v", pod.Name, err)
			}
		}
	}
	data, err := os.ReadFile("testdata/translate/cluster-istio.yaml")
	if err != nil {
		t.Fatal(err)
	}
	istio, err := decodeManifests(bytes.NewReader(data), "cluster-istio.yaml", "demo")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range istio {
		m.SetUID("")
		m.SetResourceVersion("")
		if err := c.Create(ctx, m.Unstructured); err != nil {
			t.Fatalf("creating %s: %v", describe(m.Unstructured), err)
		}
	}

	for _, tc := range []struct {
		golden  string
		args    []string
		wantErr string
	}{
		{"translate-reviews-canary-tuned.diff", []string{"translate", "-f", "testdata/translate/reviews-canary.yaml", "--proxy", "productpage-1"}, ""},
		{"analyze-broken.txt", []string{"analyze", "-f", "testdata/analyze/broken.yaml"}, "analyze found 9 error(s)"},
	} {
		var out, errOut bytes.Buffer
		cmd := NewCommand(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut})
		cmd.SetArgs(append([]string{"--kubeconfig", cluster.KubeconfigPath, "-n", "demo"}, tc.args...))
		err := cmd.ExecuteContext(ctx)
		if (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
			t.Fatalf("kubectl mesh %s: error %v, want %q (%s)", strings.Join(tc.args, " "), err, tc.wantErr, errOut.String())
		}
		golden.Assert(t, filepath.Join("testdata", tc.golden), out.Bytes())
	}
	assertTranslateMatchesDiscovery(ctx, t, cluster.Config, c)
}

// istioCRDDir is a directory with the Istio CRDs Loom installs, for envtest to install.
func istioCRDDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, crd := range istiocrds.CRDs() {
		crd = crd.DeepCopy()
		crd.APIVersion, crd.Kind = "apiextensions.k8s.io/v1", "CustomResourceDefinition"
		data, err := yaml.Marshal(crd)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, crd.Name+".yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
