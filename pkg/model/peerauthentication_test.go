package model

import (
	"strings"
	"testing"

	security "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
)

const root = "istio-system"

var (
	unset      = security.PeerAuthentication_MutualTLS_UNSET
	strict     = security.PeerAuthentication_MutualTLS_STRICT
	permissive = security.PeerAuthentication_MutualTLS_PERMISSIVE
	disable    = security.PeerAuthentication_MutualTLS_DISABLE
)

// pa builds a PeerAuthentication; selector nil means namespace- or
// mesh-wide; ports are port-level modes.
func pa(name, ns string, created int, selector map[string]string, mode security.PeerAuthentication_MutualTLS_Mode, ports map[uint32]security.PeerAuthentication_MutualTLS_Mode) *PeerAuthentication {
	spec := &security.PeerAuthentication{Mtls: &security.PeerAuthentication_MutualTLS{Mode: mode}}
	if selector != nil {
		spec.Selector = &typev1beta1.WorkloadSelector{MatchLabels: selector}
	}
	for port, m := range ports {
		if spec.PortLevelMtls == nil {
			spec.PortLevelMtls = map[uint32]*security.PeerAuthentication_MutualTLS{}
		}
		spec.PortLevelMtls[port] = &security.PeerAuthentication_MutualTLS{Mode: m}
	}
	return &PeerAuthentication{Meta: Meta{Name: name, Namespace: ns, Created: at(created)}, Spec: spec}
}

func TestResolveMTLS(t *testing.T) {
	app := map[string]string{"app": "a"}
	type want struct {
		port uint32
		mode MTLSMode
		from string // "ns/name", "" for the mesh default
	}
	for _, tc := range []struct {
		name        string
		meshDefault MTLSMode
		policies    []*PeerAuthentication
		want        []want
	}{
		{name: "nothing applies: mesh default PERMISSIVE", want: []want{{80, MTLSPermissive, ""}}},
		{name: "nothing applies: mesh config STRICT", meshDefault: MTLSStrict, want: []want{{80, MTLSStrict, ""}}},
		{
			name:     "mesh-wide policy",
			policies: []*PeerAuthentication{pa("mesh", root, 1, nil, strict, nil)},
			want:     []want{{80, MTLSStrict, "istio-system/mesh"}},
		},
		{
			name:        "mesh-wide UNSET inherits the mesh config",
			meshDefault: MTLSDisable,
			policies:    []*PeerAuthentication{pa("mesh", root, 1, nil, unset, nil)},
			want:        []want{{80, MTLSDisable, ""}},
		},
		{
			name:     "namespace overrides mesh",
			policies: []*PeerAuthentication{pa("mesh", root, 1, nil, strict, nil), pa("ns", "web", 2, nil, disable, nil)},
			want:     []want{{80, MTLSDisable, "web/ns"}},
		},
		{
			name:     "namespace UNSET inherits mesh",
			policies: []*PeerAuthentication{pa("mesh", root, 1, nil, strict, nil), pa("ns", "web", 2, nil, unset, nil)},
			want:     []want{{80, MTLSStrict, "istio-system/mesh"}},
		},
		{
			name:     "another namespace's policy does not apply",
			policies: []*PeerAuthentication{pa("ns", "other", 1, nil, strict, nil), pa("w", "other", 1, app, strict, nil)},
			want:     []want{{80, MTLSPermissive, ""}},
		},
		{
			name:     "workload overrides namespace",
			policies: []*PeerAuthentication{pa("ns", "web", 1, nil, strict, nil), pa("w", "web", 2, app, permissive, nil)},
			want:     []want{{80, MTLSPermissive, "web/w"}},
		},
		{
			name:     "workload UNSET inherits namespace",
			policies: []*PeerAuthentication{pa("ns", "web", 1, nil, strict, nil), pa("w", "web", 2, app, unset, nil)},
			want:     []want{{80, MTLSStrict, "web/ns"}},
		},
		{
			name:     "selector that does not match",
			policies: []*PeerAuthentication{pa("w", "web", 1, map[string]string{"app": "b"}, strict, nil)},
			want:     []want{{80, MTLSPermissive, ""}},
		},
		{
			name:     "empty selector is namespace-wide",
			policies: []*PeerAuthentication{pa("ns", "web", 1, map[string]string{}, strict, nil)},
			want:     []want{{80, MTLSStrict, "web/ns"}},
		},
		{
			name: "port level overrides workload, UNSET port inherits the workload's resolved mode",
			policies: []*PeerAuthentication{
				pa("ns", "web", 1, nil, disable, nil),
				pa("w", "web", 2, app, strict, map[uint32]security.PeerAuthentication_MutualTLS_Mode{8080: disable, 9090: unset}),
			},
			want: []want{{80, MTLSStrict, "web/w"}, {8080, MTLSDisable, "web/w"}, {9090, MTLSStrict, "web/w"}},
		},
		{
			name: "UNSET port under UNSET workload inherits the namespace",
			policies: []*PeerAuthentication{
				pa("ns", "web", 1, nil, disable, nil),
				pa("w", "web", 2, app, unset, map[uint32]security.PeerAuthentication_MutualTLS_Mode{9090: unset, 8080: strict}),
			},
			want: []want{{80, MTLSDisable, "web/ns"}, {9090, MTLSDisable, "web/ns"}, {8080, MTLSStrict, "web/w"}},
		},
		{
			name:     "port level without selector is ignored",
			policies: []*PeerAuthentication{pa("ns", "web", 1, nil, strict, map[uint32]security.PeerAuthentication_MutualTLS_Mode{8080: disable})},
			want:     []want{{80, MTLSStrict, "web/ns"}, {8080, MTLSStrict, "web/ns"}},
		},
		{
			name:     "selector in the root namespace has no effect",
			policies: []*PeerAuthentication{pa("rootsel", root, 1, app, strict, map[uint32]security.PeerAuthentication_MutualTLS_Mode{8080: disable})},
			want:     []want{{80, MTLSPermissive, ""}, {8080, MTLSPermissive, ""}},
		},
		{
			name:     "oldest mesh-wide wins",
			policies: []*PeerAuthentication{pa("new", root, 5, nil, disable, nil), pa("old", root, 1, nil, strict, nil)},
			want:     []want{{80, MTLSStrict, "istio-system/old"}},
		},
		{
			name:     "oldest namespace-wide wins",
			policies: []*PeerAuthentication{pa("new", "web", 5, nil, disable, nil), pa("old", "web", 1, nil, strict, nil)},
			want:     []want{{80, MTLSStrict, "web/old"}},
		},
		{
			name:     "same age: the name decides",
			policies: []*PeerAuthentication{pa("b", "web", 1, nil, disable, nil), pa("a", "web", 1, nil, strict, nil)},
			want:     []want{{80, MTLSStrict, "web/a"}},
		},
		{
			name: "oldest matching workload policy wins, its port levels only",
			policies: []*PeerAuthentication{
				pa("new", "web", 5, app, disable, map[uint32]security.PeerAuthentication_MutualTLS_Mode{9090: permissive}),
				pa("old", "web", 1, app, strict, map[uint32]security.PeerAuthentication_MutualTLS_Mode{8080: disable}),
			},
			want: []want{{80, MTLSStrict, "web/old"}, {8080, MTLSDisable, "web/old"}, {9090, MTLSStrict, "web/old"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ResolveMTLS(root, tc.meshDefault, tc.policies, "web", app)
			for _, w := range tc.want {
				s := got.ForPort(w.port)
				from := ""
				if s.From != nil {
					from = s.From.Meta.String()
				}
				if s.Mode != w.mode || from != w.from {
					t.Errorf("port %d: %s from %q, want %s from %q", w.port, s.Mode, from, w.mode, w.from)
				}
			}
		})
	}
}

func TestWorkloadInRootNamespaceGetsMeshPolicy(t *testing.T) {
	got := ResolveMTLS(root, MTLSPermissive, []*PeerAuthentication{pa("mesh", root, 1, nil, strict, nil)}, root, nil)
	if got.Default.Mode != MTLSStrict {
		t.Errorf("mode %s, want STRICT", got.Default.Mode)
	}
}

func TestPeerAuthenticationProblems(t *testing.T) {
	snap := Build(Input{RootNamespace: root, PeerAuthentications: []*PeerAuthentication{
		pa("rootsel", root, 1, map[string]string{"app": "a"}, strict, nil),
		pa("portwide", "web", 1, nil, strict, map[uint32]security.PeerAuthentication_MutualTLS_Mode{8080: disable}),
		pa("shadowed", "web", 2, nil, disable, nil),
		pa("mesh-old", root, 1, nil, strict, nil),
		pa("mesh-new", root, 3, nil, disable, nil),
		pa("zero", "web", 1, map[string]string{"app": "a"}, strict, map[uint32]security.PeerAuthentication_MutualTLS_Mode{0: disable}),
		pa("fine", "web", 1, map[string]string{"app": "b"}, strict, map[uint32]security.PeerAuthentication_MutualTLS_Mode{8080: disable}),
	}})
	var got []string
	for _, p := range snap.Problems() {
		got = append(got, p.Meta.String()+" "+p.Field+": "+p.Message)
	}
	for _, want := range []string{
		"istio-system/rootsel spec.selector: a policy with a selector in the root namespace",
		"web/portwide spec.portLevelMtls: ignored: port-level mTLS applies only to a policy with a selector",
		"web/shadowed : ignored: web/portwide is an older namespace-wide policy",
		"istio-system/mesh-new : ignored: istio-system/mesh-old is an older mesh-wide policy",
		"web/zero spec.portLevelMtls[0]: port must be between 1 and 65535",
	} {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, want)
		}
		if !found {
			t.Errorf("missing problem %q; got:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if len(got) != 5 {
		t.Errorf("%d problems, want 5:\n%s", len(got), strings.Join(got, "\n"))
	}
	if m := snap.MTLSFor("web", map[string]string{"app": "b"}); m.ForPort(8080).Mode != MTLSDisable || m.ForPort(80).Mode != MTLSStrict {
		t.Errorf("MTLSFor: %+v", m)
	}
	if snap.TrustDomain() != DefaultTrustDomain {
		t.Errorf("trust domain %q", snap.TrustDomain())
	}
}

func TestParseMTLSMode(t *testing.T) {
	for in, want := range map[string]MTLSMode{"": MTLSPermissive, "strict": MTLSStrict, "DISABLE": MTLSDisable, "Permissive": MTLSPermissive} {
		if got, err := ParseMTLSMode(in); err != nil || got != want {
			t.Errorf("ParseMTLSMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseMTLSMode("ISTIO_MUTUAL"); err == nil {
		t.Error("ParseMTLSMode(ISTIO_MUTUAL) accepted")
	}
}
