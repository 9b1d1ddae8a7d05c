package inject

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probedPod is podWith an app container whose readiness probe the sidecar
// template rewrites.
func probedPod(annotations map[string]string) *corev1.Pod {
	pod := podWith(annotations)
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
		TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)},
	}}
	return pod
}

func injectOrFail(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	out, err := Inject(Namespace{Name: "shop"}, pod, testSettings())
	if err != nil {
		t.Fatalf("%v: %v", pod.Annotations, err)
	}
	return out
}

func injectedInit(t *testing.T, pod *corev1.Pod, name string) corev1.Container {
	t.Helper()
	i := slices.IndexFunc(pod.Spec.InitContainers, func(c corev1.Container) bool { return c.Name == name })
	if i < 0 {
		t.Fatalf("no init container %s", name)
	}
	return pod.Spec.InitContainers[i]
}

// flagValue is the value after flag in args, and whether it is there.
func flagValue(args []string, flag string) (string, bool) {
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return "", false
	}
	return args[i+1], true
}

func envValue(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// TestStatusPort: Istio's precedence (status.sidecar.istio.io/port, then
// proxy.istio.io/config statusPort, then 15020) decides the agent's
// --status-port, the port the app's probes are rewritten to, and the port
// added to the inbound ports capture skips; 0 turns the readiness probe and
// the probe rewrite off.
func TestStatusPort(t *testing.T) {
	cases := []struct {
		name        string
		annotations map[string]string
		agentFlag   string // "" for none
		probePort   int32  // 0: the app probe is left alone
		exclude     string // --istio-local-exclude-ports value, "" for none
	}{
		{"default", nil, "", 15020, ""},
		{"proxy config", map[string]string{annotationProxyConfig: "statusPort: 15040"}, "15040", 15040, "15040"},
		{"annotation wins", map[string]string{annotationProxyConfig: "statusPort: 15040", annotationStatusPort: "15030"}, "15030", 15030, "15030"},
		{"spaces trimmed", map[string]string{annotationStatusPort: " 15030 "}, "15030", 15030, "15030"},
		{"the default port", map[string]string{annotationStatusPort: "15020"}, "", 15020, ""},
		{"joins excludeInboundPorts", map[string]string{annotationStatusPort: "15030", annotationExcludeInPorts: "8081"}, "15030", 15030, "8081,15030"},
		{"already excluded", map[string]string{annotationStatusPort: "15030", annotationExcludeInPorts: "15030,8081"}, "15030", 15030, "15030,8081"},
		{"empty excludeInboundPorts", map[string]string{annotationStatusPort: "15030", annotationExcludeInPorts: ""}, "15030", 15030, "15030"},
		{"off", map[string]string{annotationStatusPort: "0", annotationProxyConfig: "statusPort: 15040"}, "", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := injectOrFail(t, probedPod(c.annotations))
			proxy := injectedInit(t, out, containerProxy)
			if got, _ := flagValue(proxy.Args, "--status-port"); got != c.agentFlag {
				t.Errorf("--status-port %q, want %q (args %q)", got, c.agentFlag, proxy.Args)
			}
			probe := out.Spec.Containers[0].ReadinessProbe
			_, probers := envValue(proxy, envAppProbers)
			switch {
			case c.probePort == 0 && (probe.TCPSocket == nil || probers):
				t.Errorf("status port off: the app probe is rewritten: %+v (%s set: %v)", probe, envAppProbers, probers)
			case c.probePort != 0 && (probe.HTTPGet == nil || probe.HTTPGet.Port != intstr.FromInt32(c.probePort) || !probers):
				t.Errorf("app probe %+v, want an httpGet on %d", probe, c.probePort)
			}
			if (proxy.ReadinessProbe != nil) != (c.probePort != 0) {
				t.Errorf("istio-proxy readiness probe %+v with status port %d", proxy.ReadinessProbe, c.probePort)
			}
			var exclude string
			for _, a := range injectedInit(t, out, containerInit).Args {
				if v, ok := strings.CutPrefix(a, "--istio-local-exclude-ports="); ok {
					exclude = v
				}
			}
			if exclude != c.exclude {
				t.Errorf("excluded inbound ports %q, want %q", exclude, c.exclude)
			}
		})
	}
}

func TestStatusPortOffDropsTheHoldStartupProbe(t *testing.T) {
	out := injectOrFail(t, podWith(map[string]string{annotationStatusPort: "0", annotationProxyConfig: "holdApplicationUntilProxyStarts: true"}))
	if p := injectedInit(t, out, containerProxy).StartupProbe; p != nil {
		t.Errorf("startup probe %+v without a status port", p)
	}
	out = injectOrFail(t, podWith(map[string]string{annotationProxyConfig: "holdApplicationUntilProxyStarts: true"}))
	if p := injectedInit(t, out, containerProxy).StartupProbe; p == nil {
		t.Error("no startup probe holding the app")
	}
}

func TestReadinessTiming(t *testing.T) {
	cases := []struct {
		annotations             map[string]string
		delay, period, failures int32
	}{
		{nil, 0, 15, 4},
		{map[string]string{annotationReadyDelay: "3"}, 3, 15, 4},
		{map[string]string{annotationReadyPeriod: "1", annotationReadyFailures: "100"}, 0, 1, 100},
		{map[string]string{annotationReadyPeriod: "0", annotationReadyFailures: "2147483647"}, 0, 0, 2147483647},
	}
	for _, c := range cases {
		p := injectedInit(t, injectOrFail(t, podWith(c.annotations)), containerProxy).ReadinessProbe
		if p == nil || p.InitialDelaySeconds != c.delay || p.PeriodSeconds != c.period || p.FailureThreshold != c.failures ||
			p.HTTPGet == nil || p.HTTPGet.Port != intstr.FromInt32(readinessPort) || p.TimeoutSeconds != 3 {
			t.Errorf("%v: readiness probe %+v, want delay %d period %d failures %d on %d", c.annotations, p, c.delay, c.period, c.failures, readinessPort)
		}
	}
}
