package model

import (
	"fmt"
	"slices"
	"strings"

	security "istio.io/api/security/v1beta1"
)

// PeerAuthentication is a security.istio.io PeerAuthentication: which mTLS
// mode a workload's inbound ports accept.
type PeerAuthentication = Config[*security.PeerAuthentication]

// KindPeerAuthentication names the kind in problems.
const KindPeerAuthentication = "PeerAuthentication"

// MTLSMode is what a workload port accepts from its peers.
type MTLSMode string

const (
	// MTLSPermissive accepts mutual TLS and plaintext.
	MTLSPermissive MTLSMode = "PERMISSIVE"
	// MTLSStrict accepts mutual TLS only.
	MTLSStrict MTLSMode = "STRICT"
	// MTLSDisable accepts plaintext only.
	MTLSDisable MTLSMode = "DISABLE"
)

// DefaultTrustDomain is Istio's default trust domain.
const DefaultTrustDomain = "cluster.local"

// TLSModeLabel is the label Istio's injector puts on pods that run a mesh
// proxy; the value TLSModeIstio means the pod accepts Istio mTLS, which is
// what auto mTLS keys on.
const (
	TLSModeLabel = "security.istio.io/tlsMode"
	TLSModeIstio = "istio"
)

// ParseMTLSMode reads a mesh-wide default mode, case-insensitively; empty
// means PERMISSIVE, as in Istio.
func ParseMTLSMode(s string) (MTLSMode, error) {
	switch MTLSMode(strings.ToUpper(s)) {
	case "", MTLSPermissive:
		return MTLSPermissive, nil
	case MTLSStrict:
		return MTLSStrict, nil
	case MTLSDisable:
		return MTLSDisable, nil
	}
	return "", fmt.Errorf("mTLS mode %q is none of PERMISSIVE, STRICT, DISABLE", s)
}

func modeOf(m *security.PeerAuthentication_MutualTLS) (MTLSMode, bool) {
	switch m.GetMode() {
	case security.PeerAuthentication_MutualTLS_PERMISSIVE:
		return MTLSPermissive, true
	case security.PeerAuthentication_MutualTLS_STRICT:
		return MTLSStrict, true
	case security.PeerAuthentication_MutualTLS_DISABLE:
		return MTLSDisable, true
	}
	return "", false // UNSET: inherit
}

// MTLSSetting is the mode of one port and where it was decided: the
// PeerAuthentication and field, or nil for the mesh config's default.
type MTLSSetting struct {
	Mode  MTLSMode
	From  *PeerAuthentication
	Field string
}

// WorkloadMTLS is the mTLS mode of every port of one workload.
type WorkloadMTLS struct {
	// Default applies to ports without a port-level setting.
	Default MTLSSetting
	// Ports are the port-level settings, by workload (target) port.
	Ports map[uint32]MTLSSetting
	// Workload is the policy whose selector picked the workload, if any.
	Workload *PeerAuthentication
}

// ForPort is the setting of a workload port.
func (w WorkloadMTLS) ForPort(port uint32) MTLSSetting {
	if s, ok := w.Ports[port]; ok {
		return s
	}
	return w.Default
}

func hasSelector(pa *PeerAuthentication) bool {
	return len(pa.Spec.GetSelector().GetMatchLabels()) > 0
}

// ResolveMTLS applies Istio's PeerAuthentication inheritance to one
// workload (its namespace and labels):
//   - mesh-wide: a policy without selector in the root namespace;
//   - namespace-wide: a policy without selector in the workload's namespace;
//   - workload: a policy in the workload's namespace whose selector matches
//     its labels (a selector in the root namespace has no effect);
//
// at each level the oldest policy wins. Each level's mode replaces its
// parent's unless UNSET; with nothing set the mesh config's default holds.
// portLevelMtls is read only from the workload policy, an UNSET port
// inheriting the workload's resolved mode.
func ResolveMTLS(rootNamespace string, meshDefault MTLSMode, policies []*PeerAuthentication, namespace string, labels map[string]string) WorkloadMTLS {
	var mesh, ns, workload *PeerAuthentication
	oldest := func(cur, cand *PeerAuthentication) *PeerAuthentication {
		if cur == nil || older(cand.Meta, cur.Meta) {
			return cand
		}
		return cur
	}
	for _, pa := range policies {
		switch {
		case !hasSelector(pa) && pa.Namespace == rootNamespace:
			mesh = oldest(mesh, pa)
		case !hasSelector(pa) && pa.Namespace == namespace:
			ns = oldest(ns, pa)
		case hasSelector(pa) && pa.Namespace == namespace && pa.Namespace != rootNamespace &&
			labelsMatch(pa.Spec.GetSelector().GetMatchLabels(), labels):
			workload = oldest(workload, pa)
		}
	}
	out := WorkloadMTLS{Default: MTLSSetting{Mode: meshDefault}, Workload: workload}
	if out.Default.Mode == "" {
		out.Default.Mode = MTLSPermissive
	}
	for _, pa := range []*PeerAuthentication{mesh, ns, workload} {
		if pa == nil {
			continue
		}
		if mode, ok := modeOf(pa.Spec.GetMtls()); ok {
			out.Default = MTLSSetting{Mode: mode, From: pa, Field: "spec.mtls.mode"}
		}
	}
	if workload == nil {
		return out
	}
	for port, m := range workload.Spec.GetPortLevelMtls() {
		if out.Ports == nil {
			out.Ports = map[uint32]MTLSSetting{}
		}
		s := out.Default
		if mode, ok := modeOf(m); ok {
			s = MTLSSetting{Mode: mode, From: workload, Field: fmt.Sprintf("spec.portLevelMtls[%d].mode", port)}
		}
		out.Ports[port] = s
	}
	return out
}

// checkPeerAuthentications reports what Istio ignores in PeerAuthentications,
// so users know: a selector in the root namespace, port-level settings
// without a selector, ports out of range, and a mesh- or namespace-wide
// policy shadowed by an older one.
func (s *Snapshot) checkPeerAuthentications(policies []*PeerAuthentication) {
	wide := map[string]*PeerAuthentication{} // namespace -> oldest policy without selector
	for _, pa := range policies {
		if pa.Spec == nil {
			continue
		}
		if hasSelector(pa) {
			if pa.Namespace == s.rootNamespace {
				s.report(KindPeerAuthentication, pa.Meta, "spec.selector",
					"a policy with a selector in the root namespace %s has no effect (Istio ignores it); put it in the workload's namespace", s.rootNamespace)
			}
		} else {
			if len(pa.Spec.GetPortLevelMtls()) > 0 {
				s.report(KindPeerAuthentication, pa.Meta, "spec.portLevelMtls",
					"ignored: port-level mTLS applies only to a policy with a selector, as in Istio")
			}
			if cur, ok := wide[pa.Namespace]; !ok || older(pa.Meta, cur.Meta) {
				wide[pa.Namespace] = pa
			}
		}
		ports := make([]uint32, 0, len(pa.Spec.GetPortLevelMtls()))
		for port := range pa.Spec.GetPortLevelMtls() {
			ports = append(ports, port)
		}
		slices.Sort(ports)
		for _, port := range ports {
			if port == 0 || port > 65535 {
				s.report(KindPeerAuthentication, pa.Meta, fmt.Sprintf("spec.portLevelMtls[%d]", port), "port must be between 1 and 65535; the setting matches no port")
			}
		}
	}
	for _, pa := range policies {
		if pa.Spec == nil || hasSelector(pa) {
			continue
		}
		if winner := wide[pa.Namespace]; winner != pa {
			scope := "namespace-wide"
			if pa.Namespace == s.rootNamespace {
				scope = "mesh-wide"
			}
			s.report(KindPeerAuthentication, pa.Meta, "",
				"ignored: %s is an older %s policy for namespace %s, and the oldest wins", winner.Meta, scope, pa.Namespace)
		}
	}
}

func validPeerAuthentications(in []*PeerAuthentication) []*PeerAuthentication {
	out := make([]*PeerAuthentication, 0, len(in))
	for _, pa := range in {
		if pa != nil && pa.Spec != nil {
			out = append(out, pa)
		}
	}
	return sortedByAge(out)
}

// MTLSFor resolves the mTLS mode of every port of a workload in namespace
// with labels (see ResolveMTLS).
func (s *Snapshot) MTLSFor(namespace string, labels map[string]string) WorkloadMTLS {
	return ResolveMTLS(s.rootNamespace, s.meshMTLSMode, s.peerAuthentications, namespace, labels)
}

// TrustDomain is the mesh's SPIFFE trust domain.
func (s *Snapshot) TrustDomain() string { return s.trustDomain }

// SpiffeID is the identity Istio gives a workload's certificate.
func SpiffeID(trustDomain, namespace, serviceAccount string) string {
	return "spiffe://" + trustDomain + "/ns/" + namespace + "/sa/" + serviceAccount
}
