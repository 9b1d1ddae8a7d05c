package inject

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// prober is one entry of ISTIO_KUBE_APP_PROBERS, Istio's format: the
// original probe action the agent runs when kubelet calls its URL.
type prober struct {
	HTTPGet        *corev1.HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket      *corev1.TCPSocketAction `json:"tcpSocket,omitempty"`
	GRPC           *corev1.GRPCAction      `json:"grpc,omitempty"`
	TimeoutSeconds int32                   `json:"timeoutSeconds,omitempty"`
}

// rewriteProbes points the httpGet, tcpSocket and grpc probes of the app's
// containers (all but istio-proxy) at the agent's status port, as Istio
// does, and returns the originals as ISTIO_KUBE_APP_PROBERS ("" when none).
// Kubelet's probes come from outside the pod, so with inbound capture they
// would go through Envoy (and mTLS); the agent runs them from inside.
func rewriteProbes(spec *corev1.PodSpec, statusPort int32) (string, error) {
	probers := map[string]prober{}
	rewrite := func(c *corev1.Container) {
		if c.Name == containerProxy {
			return
		}
		for _, p := range []struct {
			probe **corev1.Probe
			kind  string
		}{{&c.ReadinessProbe, "readyz"}, {&c.LivenessProbe, "livez"}, {&c.StartupProbe, "startupz"}} {
			url := fmt.Sprintf("/app-health/%s/%s", c.Name, p.kind)
			if orig, ok := appProber(*p.probe, c.Ports, statusPort); ok {
				probers[url] = orig
				*p.probe = agentProbe(*p.probe, url, statusPort)
			}
		}
	}
	for i := range spec.InitContainers {
		rewrite(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		rewrite(&spec.Containers[i])
	}
	if len(probers) == 0 {
		return "", nil
	}
	data, err := json.Marshal(probers)
	return string(data), err
}

// appProber is the probe's action with named ports resolved, or false when
// the probe is not one the agent can run (exec, none, an unknown named port,
// or already pointing at the status port).
func appProber(probe *corev1.Probe, ports []corev1.ContainerPort, statusPort int32) (prober, bool) {
	if probe == nil {
		return prober{}, false
	}
	out := prober{TimeoutSeconds: probe.TimeoutSeconds}
	var port *intstr.IntOrString
	switch {
	case probe.HTTPGet != nil:
		out.HTTPGet = probe.HTTPGet.DeepCopy()
		port = &out.HTTPGet.Port
	case probe.TCPSocket != nil:
		out.TCPSocket = probe.TCPSocket.DeepCopy()
		port = &out.TCPSocket.Port
	case probe.GRPC != nil:
		out.GRPC = probe.GRPC.DeepCopy()
		return out, probe.GRPC.Port != statusPort
	default:
		return out, false
	}
	if port.Type == intstr.String {
		resolved := false
		for _, p := range ports {
			if p.Name != "" && p.Name == port.StrVal {
				*port = intstr.FromInt32(p.ContainerPort)
				resolved = true
				break
			}
		}
		return out, resolved
	}
	return out, port.IntVal != statusPort
}

// agentProbe is the probe as kubelet runs it after the rewrite: an httpGet
// on the agent's status port, with the probe's timing kept.
func agentProbe(probe *corev1.Probe, url string, statusPort int32) *corev1.Probe {
	p := probe.DeepCopy()
	get := &corev1.HTTPGetAction{}
	if p.HTTPGet != nil {
		get = p.HTTPGet
	}
	get.Path = url
	get.Port = intstr.FromInt32(statusPort)
	// kubelet -> HTTP -> agent -> HTTPS -> app
	if get.Scheme == corev1.URISchemeHTTPS {
		get.Scheme = corev1.URISchemeHTTP
	}
	p.ProbeHandler = corev1.ProbeHandler{HTTPGet: get}
	return p
}
