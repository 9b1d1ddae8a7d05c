package controllers

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// defaultTrustDomain is the CRD's default for spec.meshConfig.trustDomain.
const defaultTrustDomain = "cluster.local"

// unhonoredMeshConfig lists the fields of spec.meshConfig that ask for something Loom does
// not do yet, each with what actually happens. outboundTrafficPolicy, defaultTimeout and
// defaultRetries are honoured by `loom discovery`; a field left at a value that asks for
// nothing (PERMISSIVE, logging or tracing off, the default trust domain) is not listed.
func unhonoredMeshConfig(mc *operatorv1alpha1.MeshConfigSpec) []string {
	var fields []string
	if mc.MTLSMode == "STRICT" {
		fields = append(fields, "spec.meshConfig.mtlsMode is STRICT, but there is no CA or mutual TLS yet: "+
			"traffic stays plaintext and plaintext is not refused")
	}
	if mc.TrustDomain != "" && mc.TrustDomain != defaultTrustDomain {
		fields = append(fields, fmt.Sprintf("spec.meshConfig.trustDomain is %q, but no workload identities are issued yet", mc.TrustDomain))
	}
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
