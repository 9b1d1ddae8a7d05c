package inject

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var fuzzAnnotations = []string{
	"inject.istio.io/templates", "proxy.istio.io/config", "sidecar.istio.io/rewriteAppHTTPProbers",
	"sidecar.istio.io/proxyCPU", "sidecar.istio.io/proxyMemory", "sidecar.istio.io/proxyCPULimit", "sidecar.istio.io/proxyMemoryLimit",
	"traffic.sidecar.istio.io/includeOutboundIPRanges", "traffic.sidecar.istio.io/excludeOutboundIPRanges",
	"traffic.sidecar.istio.io/includeInboundPorts", "traffic.sidecar.istio.io/excludeInboundPorts",
	"traffic.sidecar.istio.io/excludeOutboundPorts", "traffic.sidecar.istio.io/includeOutboundPorts",
	"sidecar.istio.io/inject", "istio.io/rev",
	"sidecar.istio.io/proxyImage", "sidecar.istio.io/userVolume", "sidecar.istio.io/userVolumeMount",
	"status.sidecar.istio.io/port", "readiness.status.sidecar.istio.io/initialDelaySeconds",
	"readiness.status.sidecar.istio.io/periodSeconds", "readiness.status.sidecar.istio.io/failureThreshold",
	"sidecar.istio.io/logLevel", "sidecar.istio.io/componentLogLevel", "sidecar.istio.io/agentLogLevel",
}

// fuzzPod varies the parts of a pod the templates read, driven by shape.
func fuzzPod(shape uint8, annotations map[string]string) *corev1.Pod {
	probe := func(kind uint8) *corev1.Probe {
		switch kind % 5 {
		case 1:
			return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http")}}}
		case 2:
			return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("nope")}}}
		case 3:
			return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 15020}}}
		case 4:
			return &corev1.Probe{}
		}
		return nil
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: annotations},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			ReadinessProbe: probe(shape), LivenessProbe: probe(shape >> 1), StartupProbe: probe(shape >> 2),
		}}},
	}
	if shape&8 != 0 {
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptrTo[int64](int64(shape))}
	}
	if shape&16 != 0 {
		pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptrTo[int64](0)}
	}
	if shape&32 != 0 {
		pod.Spec.Containers = nil
	}
	if shape&64 != 0 {
		pod.Labels = map[string]string{"app": "x"}
	}
	if shape&128 != 0 {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "istio-proxy", Image: "auto",
			Env: []corev1.EnvVar{{Name: "X", Value: "y"}}, VolumeMounts: []corev1.VolumeMount{{Name: "loom", MountPath: "/extra"}}})
	}
	return pod
}

func checkInjected(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	before := pod.DeepCopy()
	s := testSettings()
	out, err := Inject(Namespace{Name: "shop"}, pod, s)
	if !reflect.DeepEqual(pod, before) {
		t.Fatalf("Inject changed its input")
	}
	if err != nil {
		return
	}
	if d := Decide(Namespace{Name: "shop", Labels: map[string]string{"istio-injection": "enabled"}}, out, s); d.Inject {
		t.Fatalf("injected pod would be injected again: %+v", d)
	}
	var status sidecarStatus
	if err := json.Unmarshal([]byte(out.Annotations[annotationStatus]), &status); err != nil || len(status.InitContainers) != 2 {
		t.Fatalf("status %q: %v", out.Annotations[annotationStatus], err)
	}
	names := map[string]bool{}
	for _, c := range append(out.Spec.InitContainers, out.Spec.Containers...) {
		if names[c.Name] {
			t.Fatalf("container %s twice", c.Name)
		}
		names[c.Name] = true
		for _, e := range c.Env {
			if e.Name == envAppProbers && !json.Valid([]byte(e.Value)) {
				t.Fatalf("%s is not JSON: %s", envAppProbers, e.Value)
			}
		}
		if sc := c.SecurityContext; c.Name == containerProxy && (sc == nil || sc.RunAsUser == nil || *sc.RunAsUser == 0) {
			t.Fatalf("istio-proxy may run as root: %+v", sc)
		}
	}
	checkProbesReachTheAgent(t, out)
}

// checkProbesReachTheAgent: every rewritten app probe goes to the status
// port the sidecar's agent is told, and istio-proxy has a readiness probe
// exactly when there is a status port.
func checkProbesReachTheAgent(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	i := slices.IndexFunc(pod.Spec.InitContainers, func(c corev1.Container) bool { return c.Name == containerProxy })
	proxy := pod.Spec.InitContainers[i]
	if !slices.Contains(proxy.Args, "--proxy") {
		return // grpc-agent
	}
	port := int32(defaultStatusPort)
	if v, ok := flagValue(proxy.Args, "--status-port"); ok {
		p, err := strconv.ParseInt(v, 10, 32)
		if err != nil || p <= 0 || p > 65535 {
			t.Fatalf("--status-port %q", v)
		}
		port = int32(p)
	}
	off := false
	if v, ok := pod.Annotations[annotationStatusPort]; ok {
		p, err := strconv.ParseUint(strings.TrimSpace(v), 10, 16)
		off = err == nil && p == 0
	}
	if (proxy.ReadinessProbe == nil) != off {
		t.Fatalf("status port off %v, istio-proxy readiness probe %+v", off, proxy.ReadinessProbe)
	}
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
			if p != nil && p.HTTPGet != nil && strings.HasPrefix(p.HTTPGet.Path, "/app-health/") && (off || p.HTTPGet.Port != intstr.FromInt32(port)) {
				t.Fatalf("container %s: probe %+v does not reach the agent's status port %d (off: %v)", c.Name, p.HTTPGet, port, off)
			}
		}
	}
}

// FuzzInject: any annotation values on any pod shape give a pod or an
// error, never a panic. `go test -fuzz FuzzInject ./pkg/inject` explores.
func FuzzInject(f *testing.F) {
	f.Add(uint8(0), "grpc-agent", uint8(1), "holdApplicationUntilProxyStarts: true", uint8(0))
	f.Add(uint8(3), "100m", uint8(5), "50m", uint8(0xff))
	f.Add(uint8(7), "10.0.0.0/8,::/0", uint8(10), "1,2,3", uint8(9))
	f.Add(uint8(1), "terminationDrainDuration: 99999999999s", uint8(2), "false", uint8(0x1f))
	f.Add(uint8(1), "{\"holdApplicationUntilProxyStarts\": null}", uint8(0), "sidecar", uint8(0x2a))
	f.Add(uint8(16), `{"v":{"emptyDir":{}}}`, uint8(17), `{"v":{"mountPath":"/v"}}`, uint8(0x80))
	f.Add(uint8(18), "15030", uint8(1), "{statusPort: 15040, concurrency: 2, drainDuration: 45s, proxyMetadata: {A: b}}", uint8(0x07))
	f.Add(uint8(18), "0", uint8(20), "5", uint8(0x03))
	f.Add(uint8(2), "0", uint8(18), "00", uint8(0xcc))
	f.Add(uint8(22), "debug,misc:error", uint8(23), "upstream:info", uint8(0))
	f.Add(uint8(24), "ads:debug,default:info", uint8(0), "grpc-agent", uint8(0))
	f.Fuzz(func(t *testing.T, k1 uint8, v1 string, k2 uint8, v2 string, shape uint8) {
		annotations := map[string]string{
			fuzzAnnotations[int(k1)%len(fuzzAnnotations)]: v1,
			fuzzAnnotations[int(k2)%len(fuzzAnnotations)]: v2,
		}
		checkInjected(t, fuzzPod(shape, annotations))
	})
}

// TestInjectRandomAnnotations runs the fuzz checks over a fixed random
// sample of plausible and broken values on every test run.
func TestInjectRandomAnnotations(t *testing.T) {
	values := []string{"", "*", "grpc-agent", "sidecar", "true", "false", "0", "-1", "65535", "65536", "100m", "1Gi", "1e3",
		"10.0.0.0/8", "::/0", "10.0.0.0/33", "1,2,,3", " 80 , 443 ", "{", "null", "[]", "holdApplicationUntilProxyStarts: true",
		"terminationDrainDuration: 1ms", "terminationDrainDuration: -5s", "terminationDrainDuration: 315576000001s", "\x00", "é",
		"loom:1", "example.com/proxy@sha256:abc", `{"v":{"emptyDir":{}}}`, `{"v":{"mountPath":"/v"}}`, `[{"name":"v","mountPath":"v"}]`,
		"15030", "15021", " 15040", "2147483648", "debug", "warn", "info,misc:debug", "misc:error", "default:debug,ads:info", "a:b:c",
		"statusPort: 15030", "concurrency: 4", "drainDuration: 45s", "drainDuration: 1.5s", "proxyMetadata: {CA_ADDR: x, Z: y}"}
	r := rand.New(rand.NewPCG(1, 13))
	for range 5000 {
		annotations := map[string]string{}
		for range r.IntN(4) {
			annotations[fuzzAnnotations[r.IntN(len(fuzzAnnotations))]] = values[r.IntN(len(values))]
		}
		checkInjected(t, fuzzPod(uint8(r.IntN(256)), annotations))
	}
}
