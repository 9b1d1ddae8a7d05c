package values

import operatorv1alpha1 "loom.dev/loom/api/v1alpha1"

// scaling returns the replicas, autoscaling and podDisruptionBudget values of a workload:
// the spec's settings over the profile's.
func scaling(p profile, replicas *int32, a *operatorv1alpha1.AutoscalingSpec) map[string]any {
	n := p.replicas
	if replicas != nil {
		n = *replicas
	}
	autoscaling := map[string]any{"enabled": p.autoscaling, "minReplicas": max(n, 1), "maxReplicas": max(p.maxReplicas, n, 1)}
	if a != nil {
		autoscaling["enabled"] = a.Enabled
		if a.MinReplicas != nil {
			autoscaling["minReplicas"] = *a.MinReplicas
		}
		if a.MaxReplicas > 0 {
			autoscaling["maxReplicas"] = a.MaxReplicas
		}
		if a.TargetCPUUtilizationPercentage > 0 {
			autoscaling["targetCPUUtilizationPercentage"] = a.TargetCPUUtilizationPercentage
		}
	}
	return map[string]any{
		"replicas":            n,
		"autoscaling":         autoscaling,
		"podDisruptionBudget": map[string]any{"enabled": p.pdb || n > 1, "minAvailable": 1},
	}
}
