package integration

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// captureArgoCD rewrites the MeshOperators captured for Argo CD's health test.
var captureArgoCD = flag.Bool("capture-argocd", false, "write the MeshOperators captured from real reconciles into test/tools/argocd-health/testdata/captured")

const argoCDCaptures = "../tools/argocd-health/testdata/captured"

// captureForArgoCD keeps test/tools/argocd-health/testdata/captured/<file> equal to the
// MeshOperator the real operator produced here (Argo CD's Lua health check is tested on
// those files with Argo CD's own evaluator): with -capture-argocd it writes the file,
// otherwise a difference fails the test, so the captures follow the operator's status.
// Timestamps are fixed and the metadata reduced to what the health check reads.
func captureForArgoCD(t *testing.T, file string, mesh *operatorv1alpha1.MeshOperator) {
	t.Helper()
	got, err := normalizedCapture(mesh)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(argoCDCaptures, file)
	if *captureArgoCD {
		if err := os.MkdirAll(argoCDCaptures, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -capture-argocd to capture it)", err)
	}
	// Messages may differ in detail from run to run (a rollout caught one moment earlier or
	// later), and the CA's conditions come from a reconciler of their own that may or may
	// not have written yet; everything else the health check reads must not differ.
	if d := cmp.Diff(comparable(t, want), comparable(t, got)); d != "" {
		t.Errorf("%s is not what the operator produces now (-captured +now); rerun with -capture-argocd and check Argo CD's health test:\n%s", path, d)
	}
}

func comparable(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	if status, ok := obj["status"].(map[string]any); ok {
		delete(status, "ca")
		if conds, ok := status["conditions"].([]any); ok {
			var kept []any
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && (m["type"] == operatorv1alpha1.ConditionCAReady || m["type"] == operatorv1alpha1.ConditionCertificatesExpiring) {
					continue
				}
				kept = append(kept, c)
			}
			status["conditions"] = kept
		}
	}
	var drop func(v any)
	drop = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			delete(x, "message")
			for _, e := range x {
				drop(e)
			}
		case []any:
			for _, e := range x {
				drop(e)
			}
		}
	}
	drop(obj)
	return obj
}

// fixedTime replaces every timestamp in a capture.
const fixedTime = "2026-01-01T00:00:00Z"

func normalizedCapture(mesh *operatorv1alpha1.MeshOperator) ([]byte, error) {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(mesh.DeepCopy())
	if err != nil {
		return nil, err
	}
	obj["apiVersion"], obj["kind"] = operatorv1alpha1.GroupVersion.String(), "MeshOperator"
	obj["metadata"] = map[string]any{"name": mesh.Name, "generation": mesh.Generation}
	fixTimes(obj)
	return yaml.Marshal(obj)
}

func fixTimes(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && isTimestamp(s) {
				x[k] = fixedTime
				continue
			}
			fixTimes(e)
		}
	case []any:
		for i, e := range x {
			if s, ok := e.(string); ok && isTimestamp(s) {
				x[i] = fixedTime
				continue
			}
			fixTimes(e)
		}
	}
}

func isTimestamp(s string) bool {
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

func getMesh(t *testing.T, name string) *operatorv1alpha1.MeshOperator {
	t.Helper()
	mesh := &operatorv1alpha1.MeshOperator{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: name}, mesh); err != nil {
		t.Fatal(err)
	}
	return mesh
}
