package inject

import (
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func podWith(annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop", Annotations: annotations},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
}

// TestInjectRefusesBadAnnotations: each error names the annotation and the
// value it refuses.
func TestInjectRefusesBadAnnotations(t *testing.T) {
	cases := []struct {
		annotation, value, why string
	}{
		{"inject.istio.io/templates", "envoy", `unknown template "envoy"`},
		{"inject.istio.io/templates", "sidecar,grpc-agent", "cannot be combined"},
		{"inject.istio.io/templates", "", `unknown template ""`},
		{"sidecar.istio.io/proxyCPU", "lots", "quantities must match"},
		{"sidecar.istio.io/proxyMemory", "-1Gi", "must not be negative"},
		{"sidecar.istio.io/proxyCPULimit", "1\n", "quantities must match"},
		{"sidecar.istio.io/proxyMemoryLimit", "1 Gi", "quantities must match"},
		{"traffic.sidecar.istio.io/includeOutboundIPRanges", "10.0.0.0/33", `"10.0.0.0/33" is not a CIDR`},
		{"traffic.sidecar.istio.io/includeOutboundIPRanges", "*,10.0.0.0/8", `"*" is not a CIDR`},
		{"traffic.sidecar.istio.io/excludeOutboundIPRanges", "*", `"*" is not allowed`},
		{"traffic.sidecar.istio.io/excludeOutboundIPRanges", "10.0.0.1", `"10.0.0.1" is not a CIDR`},
		{"traffic.sidecar.istio.io/includeInboundPorts", "80,http", `"http" is not a port`},
		{"traffic.sidecar.istio.io/excludeInboundPorts", "65536", `"65536" is not a port`},
		{"traffic.sidecar.istio.io/excludeOutboundPorts", "0", `"0" is not a port`},
		{"traffic.sidecar.istio.io/includeOutboundPorts", "80,,81", `"" is not a port`},
		{"proxy.istio.io/config", "holdApplicationUntilProxyStarts: maybe", "holdApplicationUntilProxyStarts"},
		{"proxy.istio.io/config", "terminationDrainDuration: 5 minutes", "terminationDrainDuration"},
		{"proxy.istio.io/config", "terminationDrainDuration: 0s", "at least 1ms"},
		{"proxy.istio.io/config", "[1, 2]", ""},
		{"proxy.istio.io/config", "a: [", ""},
		{"sidecar.istio.io/rewriteAppHTTPProbers", "sometimes", "want true or false"},
		{"sidecar.istio.io/interceptionMode", "TPROXY", "only REDIRECT"},
		{"sidecar.istio.io/proxyImage", "registry/Proxy:1", "not an image reference"},
		{"sidecar.istio.io/proxyImage", "", "not an image reference"},
		{"sidecar.istio.io/proxyImage", "proxy:1 ", "not an image reference"},
		{"sidecar.istio.io/userVolume", `{"certs": "secret"}`, "want a JSON object of name to item"},
		{"sidecar.istio.io/userVolume", `{"Certs": {"emptyDir": {}}}`, `volume name "Certs"`},
		{"sidecar.istio.io/userVolume", `{"loom": {"emptyDir": {}}}`, "already has a volume loom"},
		{"sidecar.istio.io/userVolume", `[{"emptyDir": {}}]`, "item 0 has no name"},
		{"sidecar.istio.io/userVolumeMount", `{"certs": {"mountPath": "/etc/certs"}}`, "no volume certs in the pod"},
		{"sidecar.istio.io/userVolumeMount", `{"loom": {"mountPath": "etc"}}`, `mountPath "etc" must be absolute`},
		{"status.sidecar.istio.io/port", "http", "not a port"},
		{"status.sidecar.istio.io/port", "65536", "not a port"},
		{"status.sidecar.istio.io/port", "-1", "not a port"},
		{"status.sidecar.istio.io/port", "15021", "Envoy's readiness port"},
		{"status.sidecar.istio.io/port", "15000", "Envoy's admin port"},
		{"readiness.status.sidecar.istio.io/initialDelaySeconds", "-1", "want a whole number"},
		{"readiness.status.sidecar.istio.io/periodSeconds", "1.5", "want a whole number"},
		{"readiness.status.sidecar.istio.io/failureThreshold", "2147483648", "want a whole number"},
		{"sidecar.istio.io/logLevel", "verbose", `level "verbose"`},
		{"sidecar.istio.io/logLevel", "info,misc:loud", `level "loud"`},
		{"sidecar.istio.io/logLevel", "misc:info:x", "want component:level"},
		{"sidecar.istio.io/logLevel", "Misc:info", "not an Envoy logger name"},
		{"sidecar.istio.io/componentLogLevel", "misc", "want component:level"},
		{"sidecar.istio.io/componentLogLevel", "misc:error,", "want component:level"},
		{"sidecar.istio.io/componentLogLevel", "misc:loud", `level "loud"`},
		{"sidecar.istio.io/agentLogLevel", "verbose", `level "verbose"`},
		{"sidecar.istio.io/agentLogLevel", "ads:debug:x", "want level or scope:level"},
		{"sidecar.istio.io/agentLogLevel", "default:warning", `level "warning"`},
		{"proxy.istio.io/config", "concurrency: -1", "must not be negative"},
		{"proxy.istio.io/config", "drainDuration: 1.5s", "whole seconds"},
		{"proxy.istio.io/config", "drainDuration: 0s", "at least 1ms"},
		{"proxy.istio.io/config", "drainDuration: soon", "drainDuration"},
		{"proxy.istio.io/config", "statusPort: 70000", "want 1-65535"},
		{"proxy.istio.io/config", "statusPort: 15090", "Envoy's Prometheus port"},
		{"proxy.istio.io/config", "proxyMetadata: {A=B: x}", `proxyMetadata "A=B"`},
		{"proxy.istio.io/config", "proxyMetadata: [A]", "proxyMetadata"},
	}
	for _, c := range cases {
		_, err := Inject(Namespace{Name: "shop"}, podWith(map[string]string{c.annotation: c.value}), testSettings())
		if err == nil {
			t.Errorf("%s=%q: no error", c.annotation, c.value)
			continue
		}
		msg := err.Error()
		namesValue := strings.Contains(msg, strings.TrimSpace(c.value)) || strings.Contains(msg, strconv.Quote(c.value))
		if !strings.Contains(msg, "annotation "+c.annotation) || !namesValue || !strings.Contains(msg, c.why) {
			t.Errorf("%s=%q: error %q should name the annotation, the value and %q", c.annotation, c.value, msg, c.why)
		}
	}
}

func TestInjectRefusesRequestAboveLimit(t *testing.T) {
	_, err := Inject(Namespace{Name: "shop"}, podWith(map[string]string{
		"sidecar.istio.io/proxyMemory": "2Gi", "sidecar.istio.io/proxyMemoryLimit": "1Gi",
	}), testSettings())
	if err == nil || !strings.Contains(err.Error(), "sidecar.istio.io/proxyMemory=\"2Gi\" is above annotation sidecar.istio.io/proxyMemoryLimit=\"1Gi\"") {
		t.Errorf("got %v", err)
	}
}

func TestInjectRefusesNameClashes(t *testing.T) {
	pod := podWith(nil)
	pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: "istio-proxy"})
	if _, err := Inject(Namespace{Name: "shop"}, pod, testSettings()); err == nil || !strings.Contains(err.Error(), "container named istio-proxy") {
		t.Errorf("container clash: %v", err)
	}
	pod = podWith(nil)
	pod.Spec.Volumes = []corev1.Volume{{Name: "istio-token"}}
	if _, err := Inject(Namespace{Name: "shop"}, pod, testSettings()); err == nil || !strings.Contains(err.Error(), "volume named istio-token") {
		t.Errorf("volume clash: %v", err)
	}
	pod = podWith(map[string]string{"inject.istio.io/templates": "grpc-agent"})
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "mine", MountPath: "/var/run/loom"}}
	if _, err := Inject(Namespace{Name: "shop"}, pod, testSettings()); err == nil || !strings.Contains(err.Error(), "container app already mounts mine at /var/run/loom") {
		t.Errorf("mount clash: %v", err)
	}
	if _, err := Inject(Namespace{Name: "shop"}, nil, testSettings()); err == nil {
		t.Error("nil pod: no error")
	}
}

// TestInjectAcceptsIstioForms: values Istio accepts are accepted.
func TestInjectAcceptsIstioForms(t *testing.T) {
	for _, a := range []map[string]string{
		{"traffic.sidecar.istio.io/includeOutboundIPRanges": "*"},
		{"traffic.sidecar.istio.io/includeOutboundIPRanges": ""},
		{"traffic.sidecar.istio.io/includeInboundPorts": "*"},
		{"traffic.sidecar.istio.io/includeInboundPorts": ""},
		{"traffic.sidecar.istio.io/excludeInboundPorts": " 8080 , 9090 "},
		{"proxy.istio.io/config": `{"terminationDrainDuration": "1.5s", "unknownField": 1}`},
		{"proxy.istio.io/config": "hold_application_until_proxy_starts: true"},
		{"proxy.istio.io/config": ""},
		{"inject.istio.io/templates": "sidecar"},
		{"sidecar.istio.io/interceptionMode": "REDIRECT"},
		{"inject.istio.io/templates": "grpc-agent,grpc-agent"},
		{"sidecar.istio.io/proxyCPU": "0.5", "sidecar.istio.io/proxyCPULimit": "500m"},
		{"status.sidecar.istio.io/port": " 15030 "},
		{"status.sidecar.istio.io/port": "0"},
		{"readiness.status.sidecar.istio.io/periodSeconds": "0"},
		{"sidecar.istio.io/logLevel": "", "sidecar.istio.io/componentLogLevel": ""},
		{"sidecar.istio.io/logLevel": "warn,ext_authz:debug"},
		{"sidecar.istio.io/agentLogLevel": "default:info,ads:debug,all:warn"},
		{"proxy.istio.io/config": "{concurrency: 0, drainDuration: 45s, statusPort: 15030, proxyMetadata: {my.var-1: ''}}"},
	} {
		if _, err := Inject(Namespace{Name: "shop"}, podWith(a), testSettings()); err != nil {
			t.Errorf("%v: %v", a, err)
		}
	}
}

func TestInjectRefusesIncompleteSettings(t *testing.T) {
	for field, mutate := range map[string]func(*Settings){
		"AgentImage": func(s *Settings) { s.AgentImage = "" },
		"ProxyImage": func(s *Settings) { s.ProxyImage = "" },
		"CAAddress":  func(s *Settings) { s.CAAddress = "istiod" },
		"XDSAddress": func(s *Settings) { s.XDSAddress = "" },
	} {
		s := testSettings()
		mutate(&s)
		if _, err := Inject(Namespace{Name: "shop"}, podWith(nil), s); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
}

func TestImageReferences(t *testing.T) {
	for ref, ok := range map[string]bool{
		"loom-proxy:v1.1.0": true, "localhost:5000/team/loom-proxy:dev": true, "registry.example/loom-proxy": true,
		"ghcr.io/x/y@sha256:" + strings.Repeat("ab", 32): true, "ghcr.io/x/y:1@sha256:" + strings.Repeat("0", 64): true,
		"": false, "Loom:1": false, "loom:": false, "loom proxy:1": false, "-loom:1": false, "loom@sha256:abc": false,
	} {
		if got := imageReference.MatchString(ref); got != ok {
			t.Errorf("%q: reference %v, want %v", ref, got, ok)
		}
	}
}
