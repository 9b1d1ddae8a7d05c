// Package values turns a MeshOperator spec and its profile into the values of each
// embedded chart. Typed spec fields override the profile; spec.values overrides both.
package values

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// profile holds the settings a profile gives when the spec leaves them unset.
type profile struct {
	replicas     int32
	resources    corev1.ResourceRequirements
	pdb          bool
	antiAffinity bool
	autoscaling  bool
	maxReplicas  int32
}

func requests(cpu, memory string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(memory),
	}}
}

var profiles = map[string]profile{
	"default": {replicas: 1, resources: requests("100m", "128Mi")},
	"minimal": {replicas: 1, resources: requests("50m", "64Mi")},
	"demo":    {replicas: 1, resources: requests("50m", "64Mi")},
	"production": {
		replicas: 2,
		resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
		},
		pdb:          true,
		antiAffinity: true,
		autoscaling:  true,
		maxReplicas:  5,
	},
}

func profileFor(name string) profile {
	if p, ok := profiles[name]; ok {
		return p
	}
	return profiles["default"]
}
