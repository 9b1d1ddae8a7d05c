package values

import (
	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// Prometheus returns the Prometheus add-on chart's values.
func Prometheus(spec *operatorv1alpha1.MeshOperatorSpec) (map[string]any, error) {
	prom := spec.Addons.Prometheus
	storage := map[string]any{}
	if prom.Storage != nil {
		storage["size"] = prom.Storage.Size.String()
		if prom.Storage.StorageClassName != nil {
			storage["storageClassName"] = *prom.Storage.StorageClassName
		}
	}
	return withOverrides(map[string]any{"retention": prom.Retention, "storage": storage}, spec.Values.Prometheus, "spec.values.prometheus")
}

// Grafana returns the Grafana add-on chart's values.
func Grafana(spec *operatorv1alpha1.MeshOperatorSpec) (map[string]any, error) {
	typed := map[string]any{"prometheusURL": "http://prometheus:9090"}
	if ref := spec.Addons.Grafana.AdminCredentialsSecretRef; ref != nil {
		typed["adminCredentialsSecret"] = ref.Name
	}
	return withOverrides(typed, spec.Values.Grafana, "spec.values.grafana")
}

// Jaeger returns the Jaeger add-on chart's values.
func Jaeger(spec *operatorv1alpha1.MeshOperatorSpec) (map[string]any, error) {
	typed := map[string]any{}
	if n := spec.Addons.Jaeger.MaxTraces; n > 0 {
		typed["maxTraces"] = n
	}
	return withOverrides(typed, spec.Values.Jaeger, "spec.values.jaeger")
}
