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
		"proxy.istio.io/config":                       "{holdApplicationUntilProxyStarts: true, concurrency: 2, discoveryAddress: x:1}",
		"example.com/unrelated":                       "x",
		"traffic.sidecar.istio.io/kubevirtInterfaces": "net1",
	}}}
	want := []string{
		"annotation proxy.istio.io/config: field discoveryAddress is not acted on by Loom's injector",
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

// TestWarningsShrinkWithTheStatusAndLogAnnotations: the status port,
// readiness, log level annotations and the ProxyConfig fields the sidecar
// template acts on are not warned about.
func TestWarningsShrinkWithTheStatusAndLogAnnotations(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		"status.sidecar.istio.io/port":                          "15030",
		"readiness.status.sidecar.istio.io/initialDelaySeconds": "1",
		"readiness.status.sidecar.istio.io/periodSeconds":       "2",
		"readiness.status.sidecar.istio.io/failureThreshold":    "3",
		"sidecar.istio.io/logLevel":                             "debug",
		"sidecar.istio.io/componentLogLevel":                    "misc:error",
		"sidecar.istio.io/agentLogLevel":                        "default:debug,all:info",
		"proxy.istio.io/config":                                 "{concurrency: 2, drainDuration: 45s, statusPort: 15040, proxyMetadata: {CA_ADDR: 'ca:1', GOMAXPROCS: '2'}}",
	}}}
	if got := Warnings(pod); len(got) != 0 {
		t.Errorf("warnings %q", got)
	}
}

// TestWarningsForTheGRPCAgentTemplate: it has no redirect, Envoy nor status
// port, so what only the sidecar template acts on is warned about.
func TestWarningsForTheGRPCAgentTemplate(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		"inject.istio.io/templates":                    "grpc-agent",
		"status.sidecar.istio.io/port":                 "15030",
		"sidecar.istio.io/logLevel":                    "debug",
		"sidecar.istio.io/agentLogLevel":               "debug",
		"sidecar.istio.io/proxyCPU":                    "1",
		"traffic.sidecar.istio.io/excludeInboundPorts": "80",
		"proxy.istio.io/config":                        "{concurrency: 2, proxyMetadata: {CA_ADDR: 'ca:1'}}",
	}}}
	want := []string{
		"annotation proxy.istio.io/config: field concurrency is not acted on by Loom's grpc-agent template",
		"annotation sidecar.istio.io/logLevel: not acted on by Loom's grpc-agent template",
		"annotation status.sidecar.istio.io/port: not acted on by Loom's grpc-agent template",
		"annotation traffic.sidecar.istio.io/excludeInboundPorts: not acted on by Loom's grpc-agent template",
	}
	if got := Warnings(pod); !slices.Equal(got, want) {
		t.Errorf("warnings\n%q\nwant\n%q", got, want)
	}
}

// TestWarningsNameWhatLoomsAgentIgnores: proxyMetadata the agent does not
// read, and agentLogLevel scopes of Istio's agent.
func TestWarningsNameWhatLoomsAgentIgnores(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		"proxy.istio.io/config":          "proxyMetadata: {ISTIO_META_DNS_CAPTURE: 'true', TRUST_DOMAIN: example.org}",
		"sidecar.istio.io/agentLogLevel": "ads:debug,default:info,cache:error",
	}}}
	want := []string{
		"annotation proxy.istio.io/config: proxyMetadata ISTIO_META_DNS_CAPTURE is set on istio-proxy, but Loom's agent does not read it",
		"annotation sidecar.istio.io/agentLogLevel: scope ads is Istio's agent's; Loom's agent has one logger (scopes default and all)",
		"annotation sidecar.istio.io/agentLogLevel: scope cache is Istio's agent's; Loom's agent has one logger (scopes default and all)",
	}
	if got := Warnings(pod); !slices.Equal(got, want) {
		t.Errorf("warnings\n%q\nwant\n%q", got, want)
	}
}
