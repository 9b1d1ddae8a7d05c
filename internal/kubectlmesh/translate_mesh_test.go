package kubectlmesh

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlfake "sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/golden"
	"loom.dev/loom/pkg/translate"
)

const canary = "testdata/translate/reviews-canary.yaml"

// TestTranslateUsesTheControlPlanesMeshSettings: the route the canary changes carries the
// control plane's defaultTimeout, so the diff differs from the default mesh's.
func TestTranslateUsesTheControlPlanesMeshSettings(t *testing.T) {
	cluster := fakeCluster(t, withControlPlane(t, bookinfo(), tunedControlPlane), "testdata/translate/cluster-istio.yaml")
	out, err := runOver(t, cluster, "", "translate", "-f", canary, "--proxy", "productpage-1")
	if err != nil {
		t.Fatalf("translate: %v\n%s", err, out)
	}
	golden.Assert(t, filepath.Join("testdata", "translate-reviews-canary-tuned.diff"), []byte(out))
	if !strings.Contains(out, "timeout: 3s") {
		t.Errorf("the diff does not carry the mesh's defaultTimeout 3s:\n%s", out)
	}
}

// TestTranslateSettingsChangeEveryResource: registry-only outbound traffic and the trust
// domain show in the proxy's whole config, not only in the canary's route.
func TestTranslateSettingsChangeEveryResource(t *testing.T) {
	defaults := pluginResources(t, fakeCluster(t, withControlPlane(t, bookinfo(), defaultControlPlane), "testdata/translate/cluster-istio.yaml"), "productpage-1", &meshFlags{})
	tuned := pluginResources(t, fakeCluster(t, withControlPlane(t, bookinfo(), tunedControlPlane), "testdata/translate/cluster-istio.yaml"), "productpage-1", &meshFlags{})
	changes, err := diffResources(defaults, tuned)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, c := range changes {
		all.WriteString(c.Type + " " + c.Name + "\n" + string(c.After) + "\n")
	}
	for _, want := range []string{"spiffe://example.org/", "BlackHoleCluster", "3s"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("the tuned mesh's config lacks %q where the default mesh's differs:\n%s", want, all.String())
		}
	}
}

// TestTranslatePicksTheProxysRevision: a pod of revision 1-2-0 is translated with that
// revision's settings, not the default revision's; a node id picks it with --revision.
func TestTranslatePicksTheProxysRevision(t *testing.T) {
	objs := withControlPlane(t, bookinfo(), tunedControlPlane, revisionedControlPlane)
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok && p.Name == "productpage-1" {
			p.Labels[revisionLabel] = "1-2-0"
		}
	}
	cluster := fakeCluster(t, objs, "testdata/translate/cluster-istio.yaml")
	out, err := runOver(t, cluster, "", "translate", "-f", canary, "--proxy", "productpage-1")
	if err != nil {
		t.Fatalf("translate: %v\n%s", err, out)
	}
	if !strings.Contains(out, "timeout: 9s") || strings.Contains(out, "timeout: 3s") {
		t.Errorf("the diff does not carry revision 1-2-0's defaultTimeout 9s:\n%s", out)
	}
	node := "sidecar~10.1.0.10~productpage-1.demo~demo.svc.cluster.local"
	for rev, want := range map[string]string{"": "timeout: 3s", "1-2-0": "timeout: 9s"} {
		out, err := runOver(t, cluster, "", "translate", "-f", canary, "--proxy", node, "--revision", rev)
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("--revision %q: error %v, want a diff with %q:\n%s", rev, err, want, out)
		}
	}
	// A node id without a revision gets the one new workloads use, from the MeshOperator.
	mesh := &operatorv1alpha1.MeshOperator{ObjectMeta: metav1.ObjectMeta{Name: "mesh"}}
	mesh.Spec.Namespace = controlPlaneNamespace
	mesh.Status.Revision = "1-2-0"
	cluster = fakeCluster(t, append(objs, mesh), "testdata/translate/cluster-istio.yaml")
	if out, err := runOver(t, cluster, "", "translate", "-f", canary, "--proxy", node); err != nil || !strings.Contains(out, "timeout: 9s") {
		t.Errorf("node id with the MeshOperator's revision 1-2-0: error %v, want a diff with timeout: 9s:\n%s", err, out)
	}
}

// TestTranslateMeshConfigFile: --mesh-config reads a mesh.yaml as loom discovery does, so
// the operator's ConfigMap gives the same diff without a control plane; --default-mesh-config
// opts into the defaults.
func TestTranslateMeshConfigFile(t *testing.T) {
	_, cm := controlPlane(t, tunedControlPlane)
	file := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(file, []byte(cm.Data["mesh.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	cluster := fakeCluster(t, bookinfo(), "testdata/translate/cluster-istio.yaml")
	for _, tc := range []struct {
		flags  []string
		golden string
	}{
		{[]string{"--mesh-config", file}, "translate-reviews-canary-tuned.diff"},
		{[]string{"--default-mesh-config"}, "translate-reviews-canary.diff"},
	} {
		out, err := runOver(t, cluster, "", append([]string{"translate", "-f", canary, "--proxy", "productpage-1"}, tc.flags...)...)
		if err != nil {
			t.Fatalf("translate %v: %v\n%s", tc.flags, err, out)
		}
		golden.Assert(t, filepath.Join("testdata", tc.golden), []byte(out))
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("defaultTimeout: -1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--mesh-config", bad}, "defaultTimeout:"},
		{[]string{"--mesh-config", filepath.Join(t.TempDir(), "none.yaml")}, "none.yaml"},
		{[]string{"--mesh-config", file, "--default-mesh-config"}, "exclude each other"},
	} {
		_, err := runOver(t, cluster, "", append([]string{"translate", "-f", canary, "--proxy", "productpage-1"}, tc.flags...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("translate %v: error %v, want one containing %q", tc.flags, err, tc.want)
		}
	}
}

// TestTranslateRefusesUnreadableSettings: without the control plane's settings translate
// fails, saying why and what to pass, and prints no diff made with defaults.
func TestTranslateRefusesUnreadableSettings(t *testing.T) {
	deploy, cm := controlPlane(t, tunedControlPlane)
	forbidden := func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
		if _, ok := list.(*appsv1.DeploymentList); ok {
			return apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", nil)
		}
		return c.List(ctx, list, opts...)
	}
	rbac := ctrlfake.NewClientBuilder().WithScheme(Scheme()).WithObjects(withControlPlane(t, bookinfo(), tunedControlPlane)...).
		WithInterceptorFuncs(interceptor.Funcs{List: forbidden}).Build()
	for _, tc := range []struct {
		name    string
		cluster client.Client
		want    string
	}{
		{"no control plane", fakeCluster(t, bookinfo()), "no Deployment labelled app.kubernetes.io/name=loom-control-plane,istio.io/rev=default"},
		{"no ConfigMap", fakeCluster(t, append(bookinfo(), deploy)), "ConfigMap loom-system/" + cm.Name},
		{"RBAC", rbac, "forbidden"},
	} {
		out, err := runOver(t, tc.cluster, "", "translate", "-f", canary, "--proxy", "productpage-1")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--mesh-config") {
			t.Errorf("%s: error %v, want one containing %q and suggesting --mesh-config", tc.name, err, tc.want)
		}
		if out != "" {
			t.Errorf("%s: printed %q", tc.name, out)
		}
	}
}

// pluginResources are the proxy's resources as translate builds them from the cluster.
func pluginResources(t *testing.T, r client.Reader, proxyArg string, flags *meshFlags) translate.Resources {
	t.Helper()
	ctx := context.Background()
	proxy, mesh, err := proxyAndMesh(ctx, r, proxyArg, "demo", flags)
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := translateFor(ctx, &overlayReader{base: r, scheme: Scheme()}, mesh, proxy)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
