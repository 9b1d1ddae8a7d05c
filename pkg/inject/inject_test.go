package inject

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/internal/golden"
)

func testSettings() Settings {
	return Settings{
		Revision:        "default",
		DefaultRevision: true,
		MeshNamespace:   "istio-system",
		TrustDomain:     "cluster.local",
		ClusterID:       "Kubernetes",
		CAAddress:       "istiod.istio-system.svc:15012",
		XDSAddress:      "istiod.istio-system.svc:15010",
		AgentImage:      "loom:dev",
		ProxyImage:      "loom-proxy:dev",
		ImagePullPolicy: corev1.PullIfNotPresent,
		ProxyResources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("100m"),
				corev1.ResourceMemory: resource.MustParse("128Mi"),
			},
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
		},
	}
}

// settingsFor adjusts the mesh settings for golden inputs that test them.
var settingsFor = map[string]func(*Settings){
	"sidecar-norewrite": func(s *Settings) { s.HoldApplicationUntilProxyStarts = true },
}

func readPod(t *testing.T, path string) *corev1.Pod {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(data, &pod); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &pod
}

// TestInjectGolden injects every testdata/<name>.in.yaml and compares the
// pod with testdata/<name>.golden.yaml (go test -update rewrites them).
func TestInjectGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			pod := readPod(t, in)
			before := pod.DeepCopy()
			s := testSettings()
			if adjust := settingsFor[name]; adjust != nil {
				adjust(&s)
			}
			ns := Namespace{Name: pod.Namespace, Labels: map[string]string{"istio-injection": "enabled"}}
			out, err := Inject(ns, pod, s)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pod, before) {
				t.Error("Inject changed its input")
			}
			data, err := yaml.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, "testdata/"+name+".golden.yaml", data)

			// Idempotence: the injected pod is not injected again.
			if d := Decide(ns, out, s); d.Inject || !strings.Contains(d.Reason, "already injected") {
				t.Errorf("Decide on the injected pod: %+v", d)
			}
			if _, err := Inject(ns, out, s); err == nil || !strings.Contains(err.Error(), "already injected") {
				t.Errorf("Inject on the injected pod: %v", err)
			}
		})
	}
}
