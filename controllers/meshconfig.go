package controllers

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// unhonoredMeshConfig lists the fields of spec.meshConfig that ask for something Loom does
// not do yet, each with what actually happens. outboundTrafficPolicy, defaultTimeout,
// defaultRetries, mtlsMode (the mesh-wide PeerAuthentication default) and trustDomain (the
// identities the mesh CA issues) are honoured by `loom discovery`; a field left at a value
// that asks for nothing (logging or tracing off) is not listed.
func unhonoredMeshConfig(mc *operatorv1alpha1.MeshConfigSpec) []string {
	var fields []string
	if mc.AccessLogging.Enabled {
		fields = append(fields, "spec.meshConfig.accessLogging is enabled, but proxies are not configured to write access logs yet")
	}
	if mc.Tracing.Enabled {
		fields = append(fields, "spec.meshConfig.tracing is enabled, but proxies are not configured to send traces yet")
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
