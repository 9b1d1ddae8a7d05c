package inject

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// injectSidecar applies the sidecar template: istio-init installs the
// redirect with `loom iptables`, then istio-proxy (a native sidecar) runs
// `loom agent --proxy envoy`, which supervises Envoy; app probes go through
// the agent.
func injectSidecar(pod *corev1.Pod, o options, s Settings) (injected, error) {
	var added injected
	proxy := proxyContainer(pod, o, s)
	// Status port 0: Istio's agent serves no probes, so the app's are left alone.
	if o.rewriteProbes && o.statusPort != 0 {
		probers, err := rewriteProbes(&pod.Spec, o.statusPort)
		if err != nil {
			return added, err
		}
		if probers != "" {
			setEnv(&proxy, envAppProbers, probers)
		}
	}
	added.initContainers = prepend(&pod.Spec, initContainer(o, s), nativeSidecar(proxy))
	added.volumes = addVolumes(&pod.Spec)
	return added, nil
}

// initContainer is istio-init: `loom iptables` with the flags of the
// traffic annotations, root with only the network capabilities it needs.
func initContainer(o options, s Settings) corev1.Container {
	return corev1.Container{
		Name:            containerInit,
		Image:           s.AgentImage,
		ImagePullPolicy: s.ImagePullPolicy,
		Args:            append([]string{"iptables"}, o.redirectFlags...),
		Resources:       *o.resources.DeepCopy(),
		SecurityContext: &corev1.SecurityContext{
			RunAsUser:                ptrTo[int64](0),
			RunAsGroup:               ptrTo[int64](0),
			RunAsNonRoot:             ptrTo(false),
			ReadOnlyRootFilesystem:   ptrTo(true),
			AllowPrivilegeEscalation: ptrTo(false),
			Privileged:               ptrTo(false),
			Capabilities: &corev1.Capabilities{
				Add:  []corev1.Capability{"NET_ADMIN", "NET_RAW"},
				Drop: []corev1.Capability{"ALL"},
			},
		},
	}
}

// proxyContainer is istio-proxy: the agent and Envoy as UID/GID 1337, the
// identity `loom iptables` exempts from capture.
func proxyContainer(pod *corev1.Pod, o options, s Settings) corev1.Container {
	c := corev1.Container{
		Name:            containerProxy,
		Image:           s.ProxyImage,
		ImagePullPolicy: s.ImagePullPolicy,
		Args:            proxyArgs(o, s),
		Ports: []corev1.ContainerPort{{
			Name: "http-envoy-prom", ContainerPort: prometheusPort, Protocol: corev1.ProtocolTCP,
		}},
		Env:             agentEnv(s, pod.Labels, false),
		Resources:       *o.resources.DeepCopy(),
		VolumeMounts:    agentMounts(),
		SecurityContext: restrictedSecurityContext(proxyUID, ptrTo[int64](proxyUID)),
	}
	for _, env := range o.metadata {
		setEnv(&c, env.Name, env.Value)
	}
	if o.statusPort == 0 {
		// As Istio's template: status port 0, no probes on istio-proxy.
		return c
	}
	r := o.readiness
	c.ReadinessProbe = readyProbe(r.initialDelaySeconds, r.periodSeconds, r.failureThreshold)
	if o.hold {
		// A native sidecar's startup probe holds the containers after it
		// until Envoy has its first configuration (10 minutes at most).
		c.StartupProbe = readyProbe(0, 1, 600)
	}
	return c
}

// proxyArgs is the agent's command line in istio-proxy; flags at their
// default are left out.
func proxyArgs(o options, s Settings) []string {
	args := []string{"agent", "--proxy", "envoy", "--revision", s.revision()}
	if o.drainDuration > 0 {
		args = append(args, "--drain-duration", o.drainDuration.String())
	}
	if o.statusPort != 0 && o.statusPort != defaultStatusPort {
		args = append(args, "--status-port", strconv.Itoa(int(o.statusPort)))
	}
	args = append(args, agentLogArgs(o.agentLogLevel)...)
	args = append(args, o.envoyLog.args()...)
	if o.concurrency > 0 {
		args = append(args, "--concurrency", strconv.Itoa(int(o.concurrency)))
	}
	if o.envoyDrain > 0 {
		args = append(args, "--proxy-drain-duration", o.envoyDrain.String())
	}
	return args
}

// readyProbe asks Envoy's readiness listener, which routes to the agent's
// /healthz/ready on the status port.
func readyProbe(initialDelay, period, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: "/healthz/ready", Port: intstr.FromInt32(readinessPort),
		}},
		InitialDelaySeconds: initialDelay, PeriodSeconds: period, TimeoutSeconds: 3, FailureThreshold: failures,
	}
}
