package values

import (
	"errors"
	"maps"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// MonitorsChart is the embedded chart of the Prometheus Operator's objects.
const MonitorsChart = "prometheus-monitors"

// PrometheusOperatorMode is spec.addons.prometheusOperator.mode, Auto when unset.
func PrometheusOperatorMode(spec *operatorv1alpha1.MeshOperatorSpec) operatorv1alpha1.PrometheusOperatorMode {
	if m := spec.Addons.PrometheusOperator.Mode; m != "" {
		return m
	}
	return operatorv1alpha1.PrometheusOperatorAuto
}

// WantsMonitors reports whether the mesh gets the Prometheus Operator's objects, given
// whether the cluster serves their CRDs. Enabled wants them either way: the caller reports
// the missing CRDs.
func WantsMonitors(spec *operatorv1alpha1.MeshOperatorSpec, crdsInstalled bool) bool {
	switch PrometheusOperatorMode(spec) {
	case operatorv1alpha1.PrometheusOperatorEnabled:
		return true
	case operatorv1alpha1.PrometheusOperatorAuto:
		return crdsInstalled
	}
	return false
}

// PrometheusMonitors returns the prometheus-monitors chart's values. rules is the Prometheus
// add-on's rules file: a chart cannot read another chart's files, so the caller reads it
// from the add-on's chart.
func PrometheusMonitors(spec *operatorv1alpha1.MeshOperatorSpec, rules string) (map[string]any, error) {
	if rules == "" {
		return nil, errors.New("the Prometheus add-on's rules file is empty")
	}
	labels := map[string]any{}
	for k, v := range maps.All(spec.Addons.PrometheusOperator.Labels) {
		labels[k] = v
	}
	return map[string]any{"labels": labels, "rules": rules}, nil
}
