package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/istiocrds"
)

// The examples are pkg/istiocrds' testdata: its unit test checks them in-process against
// Loom's and Istio's CRDs; here the real apiserver must decide the same.
const istioExamples = "../../pkg/istiocrds/testdata"

func TestIstioCRDsRejectInvalidObjectsAtTheirField(t *testing.T) {
	const ns = "crd-validation"
	createMesh(t, newMesh(ns))
	waitCondition(t, ns, operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	waitIstioCRDsEstablished(t)

	valid, _ := filepath.Glob(filepath.Join(istioExamples, "valid", "*.yaml"))
	invalid, _ := filepath.Glob(filepath.Join(istioExamples, "invalid", "*.yaml"))
	if len(valid) == 0 || len(invalid) == 0 {
		t.Fatalf("no examples under %s", istioExamples)
	}
	for _, file := range valid {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := kubectl(t, string(data), "apply", "--server-side", "-n", ns, "-f", "-"); err != nil {
			t.Errorf("%s rejected: %v\n%s", file, err, out)
		}
	}
	for _, file := range invalid {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		field := rejectedAt(string(data))
		if field == "" {
			t.Fatalf("%s does not say where it is rejected", file)
		}
		out, err := kubectl(t, string(data), "apply", "--server-side", "-n", ns, "-f", "-")
		if err == nil {
			t.Errorf("%s accepted:\n%s", file, out)
		} else if !strings.Contains(out, "is invalid") || !strings.Contains(out, field) {
			t.Errorf("%s: rejected without naming %s:\n%s", file, field, out)
		} else {
			t.Logf("%s: %s", filepath.Base(file), out)
		}
	}
}

func rejectedAt(example string) string {
	for _, line := range strings.Split(example, "\n") {
		if at, ok := strings.CutPrefix(line, "# rejected at: "); ok {
			return at
		}
	}
	return ""
}

// waitIstioCRDsEstablished waits until every CRD of this build is served: an earlier test may
// have just removed them, and the operator installs them again.
func waitIstioCRDsEstablished(t *testing.T) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, want := range istiocrds.CRDs() {
			live := &apiextensionsv1.CustomResourceDefinition{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Name: want.Name}, live); err != nil || !live.DeletionTimestamp.IsZero() || !established(live) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatal("Loom's Istio CRDs were never established")
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}
