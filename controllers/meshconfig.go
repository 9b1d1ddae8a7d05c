package controllers

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// unhonoredMeshConfig lists the fields of spec.meshConfig that ask for something Loom does
// not do, each with what actually happens. Every field is honoured by `loom discovery`
// (accessLogging and tracing by the Envoy sidecars and gateways; proxyless gRPC, which
// implements neither, is reported by discovery itself); tracing without a collector (no
// collectorAddress and the Jaeger add-on off, which would supply it) traces nothing.
func unhonoredMeshConfig(mc *operatorv1alpha1.MeshConfigSpec) []string {
	var fields []string
	if mc.Tracing.Enabled && mc.Tracing.CollectorAddress == "" {
		fields = append(fields, "spec.meshConfig.tracing is enabled, but no collectorAddress is set and the Jaeger add-on is off, so the built-in zipkin provider sends no traces")
	}
	return fields
}

// meshConfigHonored is the MeshConfigHonored condition for a spec: False, naming each
// field that takes no effect, when there is any.
func meshConfigHonored(mc *operatorv1alpha1.MeshConfigSpec) (metav1.ConditionStatus, string, string) {
	fields := unhonoredMeshConfig(mc)
	if len(fields) == 0 {
		return metav1.ConditionTrue, operatorv1alpha1.ReasonAllFieldsHonored, "every field set in spec.meshConfig takes effect"
	}
	return metav1.ConditionFalse, operatorv1alpha1.ReasonFieldsNotImplemented, strings.Join(fields, "; ")
}
