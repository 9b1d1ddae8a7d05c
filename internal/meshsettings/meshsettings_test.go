package meshsettings

import (
	"strings"
	"testing"
	"time"

	"loom.dev/loom/pkg/model"
)

// The control-plane chart's discovery args, with flags that do not decide the mesh.
var chartArgs = []string{"--mesh-config=/etc/loom/mesh/mesh.yaml", "--zap-log-level=info", "--ca-mode=SelfSigned",
	"--inject=true", "--ca-dns-names", "a.svc,b.svc", "--status-lease-namespace=loom-system"}

func TestParseArgsReadsTheMeshFlagsOnly(t *testing.T) {
	for _, tc := range []struct {
		name         string
		args         []string
		podNamespace string
		want         Flags
	}{
		{"chart", chartArgs, "loom-system", Flags{MeshConfig: "/etc/loom/mesh/mesh.yaml", DomainSuffix: "cluster.local", RootNamespace: "loom-system"}},
		{"no $POD_NAMESPACE", nil, "", Flags{DomainSuffix: "cluster.local", RootNamespace: "istio-system"}},
		{"explicit", append(chartArgs, "--domain-suffix", "corp.example", "--root-namespace=mesh-root"), "loom-system",
			Flags{MeshConfig: "/etc/loom/mesh/mesh.yaml", DomainSuffix: "corp.example", RootNamespace: "mesh-root"}},
	} {
		got, err := ParseArgs(tc.args, tc.podNamespace)
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	if _, err := ParseArgs([]string{"--domain-suffix"}, ""); err == nil || !strings.Contains(err.Error(), "domain-suffix") {
		t.Errorf("a mesh flag without its value: error %v, want one naming it", err)
	}
}

func TestParseConvertsAndNamesTheSource(t *testing.T) {
	mesh, err := Parse([]byte("defaultTimeout: 3s\noutboundTrafficPolicy: REGISTRY_ONLY\ntrustDomain: example.org\nmtlsMode: STRICT\n"), "ConfigMap a/b key mesh.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in, err := mesh.Input("", "loom-system")
	if err != nil {
		t.Fatal(err)
	}
	if !in.RegistryOnly || in.TrustDomain != "example.org" || in.MeshMTLSMode != model.MTLSStrict ||
		in.RouteDefaults.Timeout.AsDuration() != 3*time.Second || in.DomainSuffix != model.DefaultDomainSuffix || in.RootNamespace != "loom-system" {
		t.Errorf("model input %+v", in)
	}
	for _, doc := range []string{"defaultTimeout: -1s\n", "noSuchField: 1\n"} {
		if _, err := Parse([]byte(doc), "ConfigMap a/b key mesh.yaml"); err == nil || !strings.Contains(err.Error(), "ConfigMap a/b key mesh.yaml") {
			t.Errorf("%q: error %v, want one naming the ConfigMap", doc, err)
		}
	}
}

func TestInputRefusesAnUnknownMTLSMode(t *testing.T) {
	if _, err := (Mesh{MeshMTLSMode: "SOMETIMES"}).Input("", ""); err == nil || !strings.Contains(err.Error(), "mesh mTLS mode") {
		t.Errorf("error %v, want one naming the mesh mTLS mode", err)
	}
}
