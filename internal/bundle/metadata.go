package bundle

import (
	_ "embed"
	"encoding/base64"

	"github.com/operator-framework/api/pkg/lib/version"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
)

// The package as OLM and OperatorHub list it.
const (
	PackageName    = "loom-operator"
	DefaultChannel = "stable"
	// DefaultVersion is the version of the committed bundle; a release bumps it.
	DefaultVersion = "0.1.0"
	// DefaultRegistry is where `make image-push` publishes the images for a release.
	DefaultRegistry = "ghcr.io/loom-dev"

	displayName = "Loom"
	// minKubeVersion: the CRDs' CEL rules carry reason and fieldPath (1.28+, GA with
	// validation rules in 1.29) and injected proxies are native sidecars (on by default
	// from 1.29).
	minKubeVersion = "1.29.0"
	// capabilities: installs, upgrades in place or as canary revisions with automatic
	// rollback, and repairs drift; no backup or metrics-driven tuning (Full Lifecycle and
	// above).
	capabilities = "Seamless Upgrades"
	categories   = "Networking,Security,Observability"
	repository   = "https://github.com/loom-dev/loom"
	suggestedNS  = "loom-system"

	shortDescription = "Installs, upgrades and runs a Loom service mesh: an Istio-compatible control plane, gateways and observability add-ons."

	description = `Loom is an operator-driven service-mesh lifecycle manager. One cluster-scoped
` + "`MeshOperator`" + ` resource installs, upgrades, configures and uninstalls a whole mesh:

* the Istio API CRDs, so existing VirtualServices, DestinationRules, Gateways,
  PeerAuthentications and AuthorizationPolicies keep working;
* the control plane (` + "`loom discovery`" + `), which serves that configuration over xDS to
  Envoy sidecars, Envoy gateways and proxyless gRPC, runs the mesh certificate authority
  and injects sidecars;
* ingress and egress gateways, and the Prometheus, Grafana and Jaeger add-ons.

Upgrades run in place or as a revision-based canary with automatic rollback when the new
version does not become Ready in time. The status reports every component, every revision
and the mesh CA truthfully (Ready and Degraded can both be true).

### Getting started

Create a MeshOperator (the samples show each profile: default, minimal, demo, production):

` + "```yaml" + `
apiVersion: operator.loom.dev/v1alpha1
kind: MeshOperator
metadata:
  name: loom
spec:
  profile: default
` + "```" + `

then label a namespace ` + "`istio-injection=enabled`" + ` to bring its workloads into the mesh.

MeshRevision objects are the operator's own record of control-plane revisions; do not
create them.
`
)

var keywords = []string{"service mesh", "istio", "xds", "envoy", "grpc", "mtls", "gateway"}

var maintainers = []operatorsv1alpha1.Maintainer{{Name: "Loom maintainers", Email: "maintainers@loom.dev"}}

var links = []operatorsv1alpha1.AppLink{
	{Name: "Source code", URL: repository},
	{Name: "Documentation", URL: repository + "#readme"},
}

var provider = operatorsv1alpha1.AppLink{Name: "Loom project", URL: repository}

//go:embed icon.svg
var iconSVG []byte

func icon() []operatorsv1alpha1.Icon {
	return []operatorsv1alpha1.Icon{{Data: base64.StdEncoding.EncodeToString(iconSVG), MediaType: "image/svg+xml"}}
}

func operatorVersion(v string) (version.OperatorVersion, error) {
	var ov version.OperatorVersion
	err := ov.UnmarshalJSON([]byte(`"` + v + `"`))
	return ov, err
}
