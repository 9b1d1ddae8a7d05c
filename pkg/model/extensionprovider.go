package model

import meshconfig "istio.io/api/mesh/v1alpha1"

// ExtensionProvider is a mesh config extension provider, in Istio's
// MeshConfig form; only the ext_authz kinds (envoyExtAuthzHttp,
// envoyExtAuthzGrpc) are set by Loom's mesh config.
type ExtensionProvider = meshconfig.MeshConfig_ExtensionProvider

// ExtensionProvider returns the mesh config's extension provider called
// name, or nil.
func (s *Snapshot) ExtensionProvider(name string) *ExtensionProvider {
	for _, p := range s.extProviders {
		if p.GetName() == name {
			return p
		}
	}
	return nil
}
