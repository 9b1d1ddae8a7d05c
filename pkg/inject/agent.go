package inject

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
)

// agentEnv is the environment every injected agent container gets: the
// pod's identity through the downward API and the mesh's addresses.
func agentEnv(s Settings, labels map[string]string, withXDS bool) []corev1.EnvVar {
	labelsJSON, _ := json.Marshal(labels) // a map of strings always marshals
	env := []corev1.EnvVar{
		fieldEnv("POD_NAME", "metadata.name"),
		fieldEnv("POD_NAMESPACE", "metadata.namespace"),
		fieldEnv("SERVICE_ACCOUNT", "spec.serviceAccountName"),
		fieldEnv("INSTANCE_IP", "status.podIP"),
		{Name: "ISTIO_METAJSON_LABELS", Value: string(labelsJSON)},
		{Name: "ISTIO_META_CLUSTER_ID", Value: s.ClusterID},
		{Name: "TRUST_DOMAIN", Value: s.TrustDomain},
		{Name: "CA_ADDR", Value: s.CAAddress},
	}
	if withXDS {
		env = append(env, corev1.EnvVar{Name: "XDS_ADDRESS", Value: s.XDSAddress})
	}
	return env
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: path},
	}}
}

// agentMounts: the agent writes under /var/run/loom and reads the token and
// the mesh's root certificate.
func agentMounts() []corev1.VolumeMount {
	return []corev1.VolumeMount{
		{Name: volumeLoom, MountPath: loomDir},
		{Name: volumeToken, MountPath: tokenDir, ReadOnly: true},
		{Name: volumeCARoot, MountPath: caRootDir, ReadOnly: true},
	}
}

// agentVolumes are the volumes both templates add. The loom volume is in
// memory: it holds the workload's private key.
func agentVolumes() []corev1.Volume {
	return []corev1.Volume{
		{Name: volumeLoom, VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory},
		}},
		{Name: volumeToken, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Audience: tokenAudience, ExpirationSeconds: ptrTo[int64](tokenTTLSeconds), Path: tokenPath,
			}}},
		}}},
		{Name: volumeCARoot, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: caRootConfigMap},
		}}},
	}
}

// restrictedSecurityContext runs a container as uid (and gid when set),
// non-root, with nothing it could escalate to.
func restrictedSecurityContext(uid int64, gid *int64) *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsUser:                ptrTo(uid),
		RunAsGroup:               gid,
		RunAsNonRoot:             ptrTo(true),
		ReadOnlyRootFilesystem:   ptrTo(true),
		AllowPrivilegeEscalation: ptrTo(false),
		Privileged:               ptrTo(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// nativeSidecar marks an init container as a sidecar: it keeps running and
// the containers after it start once it has started.
func nativeSidecar(c corev1.Container) corev1.Container {
	c.RestartPolicy = ptrTo(corev1.ContainerRestartPolicyAlways)
	return c
}

func ptrTo[T any](v T) *T { return &v }
