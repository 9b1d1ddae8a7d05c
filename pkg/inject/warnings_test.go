package inject

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestWarningsNameWhatTheInjectorIgnores(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		"sidecar.istio.io/proxyImageType":             "distroless",
		"sidecar.istio.io/proxyCPU":                   "200m",
		"proxy.istio.io/config":                       "{holdApplicationUntilProxyStarts: true, concurrency: 2}",
		"example.com/unrelated":                       "x",
		"traffic.sidecar.istio.io/kubevirtInterfaces": "net1",
	}}}
	want := []string{
		"annotation proxy.istio.io/config: field concurrency is not acted on by Loom's injector",
		"annotation sidecar.istio.io/proxyImageType: not acted on by Loom's injector",
		"annotation traffic.sidecar.istio.io/kubevirtInterfaces: not acted on by Loom's injector",
	}
	if got := Warnings(pod); !slices.Equal(got, want) {
		t.Errorf("warnings\n%q\nwant\n%q", got, want)
	}
	if got := Warnings(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"sidecar.istio.io/proxyCPU": "1"}}}); len(got) != 0 {
		t.Errorf("an annotation the injector reads is warned about: %q", got)
	}
}
