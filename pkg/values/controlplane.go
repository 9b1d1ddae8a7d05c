package values

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// Revision is the control-plane revision a spec asks for: empty (the default revision) for
// in-place updates, else the version with dashes (1.1.0 -> 1-1-0), as in istio.io/rev.
func Revision(spec *operatorv1alpha1.MeshOperatorSpec) string {
	if spec.UpdateStrategy.Type != operatorv1alpha1.RevisionBased {
		return ""
	}
	return strings.ReplaceAll(spec.Version, ".", "-")
}

// ControlPlaneName names the control plane's Deployment and Service for the spec's revision.
func ControlPlaneName(spec *operatorv1alpha1.MeshOperatorSpec) string {
	if rev := Revision(spec); rev != "" {
		return "loom-control-plane-" + rev
	}
	return "loom-control-plane"
}

// ControlPlane returns the control-plane chart's values for a spec.
func ControlPlane(spec *operatorv1alpha1.MeshOperatorSpec) (map[string]any, error) {
	cp := spec.ControlPlane
	p := profileFor(spec.Profile)

	resources := p.resources
	if cp.Resources != nil {
		resources = *cp.Resources
	}
	typed := scaling(p, cp.Replicas, cp.Autoscaling)
	typed["name"] = ControlPlaneName(spec)
	typed["version"] = spec.Version
	typed["revision"] = Revision(spec)
	typed["podAntiAffinity"] = p.antiAffinity
	typed["nodeSelector"] = cp.NodeSelector
	typed["logLevel"] = cp.LogLevel
	typed["meshConfig"] = meshConfig(spec)
	typed["ca"] = caValues(&spec.Security.CA)
	fields := map[string]any{"resources": resources, "tolerations": cp.Tolerations, "affinity": cp.Affinity, "env": cp.Env}
	for key, v := range fields {
		m, err := toValue(v)
		if err != nil {
			return nil, fmt.Errorf("spec.controlPlane.%s: %w", key, err)
		}
		if m != nil {
			typed[key] = m
		}
	}
	return withOverrides(typed, spec.Values.ControlPlane, "spec.values.controlPlane")
}

// meshConfig is the mesh-wide configuration the control plane reads, with the tracing
// collector defaulting to the Jaeger add-on.
func meshConfig(spec *operatorv1alpha1.MeshOperatorSpec) operatorv1alpha1.MeshConfigSpec {
	mc := *spec.MeshConfig.DeepCopy()
	if mc.Tracing.Enabled && mc.Tracing.CollectorAddress == "" && spec.Addons.Jaeger.Enabled {
		mc.Tracing.CollectorAddress = fmt.Sprintf("%s.%s.svc:9411", JaegerCollectorService, spec.Namespace)
	}
	return mc
}

// caValues are the chart's mesh CA settings for spec.security.ca, with the CRD's defaults
// for what is unset (a spec built in Go, not through the apiserver, has none).
func caValues(c *operatorv1alpha1.CASpec) map[string]any {
	mode, secret, ttl := operatorv1alpha1.CASelfSigned, operatorv1alpha1.DefaultPluggedCASecret, 24*time.Hour
	if c.Mode != "" {
		mode = c.Mode
	}
	if c.Plugged != nil && c.Plugged.SecretName != "" {
		secret = c.Plugged.SecretName
	}
	if c.WorkloadCertTTL != nil {
		ttl = c.WorkloadCertTTL.Duration
	}
	issuer := operatorv1alpha1.IssuerReference{Kind: "Issuer", Group: "cert-manager.io"}
	if c.CertManager != nil {
		ref := c.CertManager.IssuerRef
		issuer.Name = ref.Name
		if ref.Kind != "" {
			issuer.Kind = ref.Kind
		}
		if ref.Group != "" {
			issuer.Group = ref.Group
		}
	}
	return map[string]any{"mode": string(mode), "pluggedSecret": secret, "workloadCertTTL": ttl.String(),
		"certManager": map[string]any{"issuerRef": map[string]any{"name": issuer.Name, "kind": issuer.Kind, "group": issuer.Group}}}
}

// JaegerCollectorService is the Service through which the Jaeger add-on accepts Zipkin spans.
const JaegerCollectorService = "jaeger-collector"

// toValue converts a Go value to the plain maps, slices and scalars that Helm expects, the
// way the value would look in a values file. Nil and empty values become nil.
func toValue(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	switch o := out.(type) {
	case map[string]any:
		if len(o) == 0 {
			return nil, nil
		}
	case []any:
		if len(o) == 0 {
			return nil, nil
		}
	}
	return out, nil
}

// withOverrides turns typed values into plain chart values and merges the user's free-form
// overrides over them; overrides win.
func withOverrides(typedValues map[string]any, overrides *apiextensionsv1.JSON, field string) (map[string]any, error) {
	normalized, err := toValue(typedValues)
	if err != nil {
		return nil, err
	}
	typed, _ := normalized.(map[string]any)
	if typed == nil {
		typed = map[string]any{}
	}
	if overrides == nil || len(overrides.Raw) == 0 {
		return typed, nil
	}
	var user map[string]any
	if err := json.Unmarshal(overrides.Raw, &user); err != nil {
		return nil, fmt.Errorf("%s must be an object: %w", field, err)
	}
	return chartutil.CoalesceTables(user, typed), nil
}
