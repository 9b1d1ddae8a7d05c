package inject

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// injectGRPCAgent applies the grpc-agent template for proxyless gRPC: no
// redirect, no Envoy. istio-agent-init gets the first certificate and writes
// the xDS bootstrap before anything else starts; istio-proxy (a native
// sidecar) renews it; the app's containers read both from /var/run/loom.
func injectGRPCAgent(pod *corev1.Pod, o options, s Settings) (injected, error) {
	var added injected
	for i := range pod.Spec.Containers {
		if err := addBootstrap(&pod.Spec.Containers[i]); err != nil {
			return added, err
		}
	}
	sc := agentSecurityContext(&pod.Spec)
	agent := func(name string, args ...string) corev1.Container {
		c := corev1.Container{
			Name:            name,
			Image:           s.AgentImage,
			ImagePullPolicy: s.ImagePullPolicy,
			Args: append([]string{"agent",
				"--output-dir", certsDir,
				"--grpc-bootstrap", bootstrapPath,
				"--revision", s.revision(),
			}, append(agentLogArgs(o.agentLogLevel), args...)...),
			Env:             agentEnv(s, pod.Labels, true),
			Resources:       *o.resources.DeepCopy(),
			VolumeMounts:    agentMounts(),
			SecurityContext: sc.DeepCopy(),
		}
		for _, env := range o.metadata {
			setEnv(&c, env.Name, env.Value)
		}
		return c
	}
	added.initContainers = prepend(&pod.Spec,
		agent(containerAgentInit, "--once"),
		nativeSidecar(agent(containerProxy, "--ready-file", readyFile)))
	added.volumes = addVolumes(&pod.Spec)
	return added, nil
}

// addBootstrap points an app container's gRPC at the agent's bootstrap and
// mounts the agent's files read-only.
func addBootstrap(c *corev1.Container) error {
	for _, m := range c.VolumeMounts {
		if m.MountPath == loomDir {
			return fmt.Errorf("container %s already mounts %s at %s, where injection mounts the agent's files", c.Name, m.Name, loomDir)
		}
	}
	setEnv(c, envGRPCBootstrap, bootstrapPath)
	setEnv(c, "GRPC_XDS_EXPERIMENTAL_SECURITY_SUPPORT", "true")
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: volumeLoom, MountPath: loomDir, ReadOnly: true})
	return nil
}

func setEnv(c *corev1.Container, name, value string) {
	for i := range c.Env {
		if c.Env[i].Name == name {
			c.Env[i] = corev1.EnvVar{Name: name, Value: value}
			return
		}
	}
	c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
}

// agentSecurityContext picks who the agent runs as so the app can read what
// it writes: the agent writes the key and certificates owner-only (0600),
// so it runs as the app's own user, the first app container's effective
// runAsUser. When the pod does not say (the image's user decides) or says
// root, the agent runs as 1337 and the pod gets fsGroup 1337 (unless it has
// one): every container then shares that group, which makes the projected
// token readable by the agent; the app reads the certificates through that
// group once the agent writes them group-readable, or as root.
func agentSecurityContext(spec *corev1.PodSpec) *corev1.SecurityContext {
	pod := spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	for _, c := range spec.Containers {
		uid, gid := pod.RunAsUser, pod.RunAsGroup
		if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
			uid = c.SecurityContext.RunAsUser
		}
		if c.SecurityContext != nil && c.SecurityContext.RunAsGroup != nil {
			gid = c.SecurityContext.RunAsGroup
		}
		if uid != nil && *uid != 0 {
			return restrictedSecurityContext(*uid, copyInt64(gid))
		}
	}
	if pod.FSGroup == nil {
		pod.FSGroup = ptrTo[int64](proxyUID)
		spec.SecurityContext = pod
	}
	return restrictedSecurityContext(proxyUID, ptrTo[int64](proxyUID))
}

func copyInt64(p *int64) *int64 {
	if p == nil {
		return nil
	}
	return ptrTo(*p)
}
