// Package meshsettings turns the control plane's inputs — its flags and the mesh config file
// the operator renders from a MeshOperator's spec.meshConfig — into the mesh-wide settings of
// the model. `loom discovery` and `kubectl mesh translate` both go through it, so the plugin
// translates with exactly the settings the control plane runs with.
package meshsettings

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/translate"
)

// Mesh are the settings a mesh config file decides.
type Mesh struct {
	// RegistryOnly is the mesh config's outboundTrafficPolicy REGISTRY_ONLY.
	RegistryOnly bool
	// RouteDefaults are the mesh config's defaultTimeout and defaultRetries.
	RouteDefaults model.RouteDefaults
	// MeshMTLSMode is the mTLS mode of workload ports no PeerAuthentication
	// decides: PERMISSIVE (the default, also for ""), STRICT or DISABLE.
	MeshMTLSMode string
	// TrustDomain names workload identities ("cluster.local" if empty).
	TrustDomain string
	// Telemetry is the mesh config's access logging and tracing.
	Telemetry model.Telemetry
	// ExtensionProviders are the mesh config's external authorizers (CUSTOM policies).
	ExtensionProviders []*model.ExtensionProvider
}

// ReadFile reads the mesh config file at path, as `loom discovery --mesh-config` does.
func ReadFile(path string) (Mesh, error) {
	mc, err := DecodeFile(path)
	if err != nil {
		return Mesh{}, err
	}
	return FromMeshConfig(mc, path)
}

// DecodeFile decodes the mesh config file at path strictly (an unknown field is an error).
func DecodeFile(path string) (*v1alpha1.MeshConfigSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mesh config: %w", err)
	}
	return Decode(data, path)
}

// Decode decodes a mesh config document strictly; source names it in errors.
func Decode(data []byte, source string) (*v1alpha1.MeshConfigSpec, error) {
	var mc v1alpha1.MeshConfigSpec
	if err := yaml.UnmarshalStrict(data, &mc); err != nil {
		return nil, fmt.Errorf("mesh config %s: %w", source, err)
	}
	return &mc, nil
}

// Parse decodes a mesh config document and converts it; source names it in errors.
func Parse(data []byte, source string) (Mesh, error) {
	mc, err := Decode(data, source)
	if err != nil {
		return Mesh{}, err
	}
	return FromMeshConfig(mc, source)
}

// FromMeshConfig converts a mesh config to the settings discovery honours:
// outboundTrafficPolicy, mtlsMode, trustDomain, defaultTimeout, defaultRetries, accessLogging,
// tracing and extensionProviders. Values no proxy could use are refused, naming the field;
// source names the config in errors.
func FromMeshConfig(mc *v1alpha1.MeshConfigSpec, source string) (Mesh, error) {
	m := Mesh{
		RegistryOnly:  mc.OutboundTrafficPolicy == "REGISTRY_ONLY",
		MeshMTLSMode:  mc.MTLSMode,
		TrustDomain:   mc.TrustDomain,
		RouteDefaults: routeDefaults(mc),
	}
	if err := translate.CheckRouteDefaults(m.RouteDefaults); err != nil {
		return Mesh{}, fmt.Errorf("mesh config %s: %w", source, err)
	}
	var err error
	if m.Telemetry, err = telemetry(mc); err != nil {
		return Mesh{}, fmt.Errorf("mesh config %s: %w", source, err)
	}
	m.ExtensionProviders = extensionProviders(mc)
	return m, nil
}

// Input is the model's mesh-wide part for these settings, with the domain suffix and root
// namespace of discovery's flags: the model.Input every rebuild starts from.
func (m Mesh) Input(domainSuffix, rootNamespace string) (model.Input, error) {
	if domainSuffix == "" {
		domainSuffix = model.DefaultDomainSuffix
	}
	mtlsMode, err := model.ParseMTLSMode(m.MeshMTLSMode)
	if err != nil {
		return model.Input{}, fmt.Errorf("mesh mTLS mode: %w", err)
	}
	return model.Input{DomainSuffix: domainSuffix, RootNamespace: rootNamespace, RegistryOnly: m.RegistryOnly,
		RouteDefaults: m.RouteDefaults, MeshMTLSMode: mtlsMode, TrustDomain: m.TrustDomain,
		Telemetry: m.Telemetry, ExtensionProviders: m.ExtensionProviders}, nil
}
