package translate

import (
	"fmt"
	"testing"

	"loom.dev/loom/pkg/model"
)

// BenchmarkAuthzTranslation measures building a sidecar's resources with N
// AuthorizationPolicies selecting its workload (a mix of ALLOW and DENY
// with principals, paths, methods and conditions), beside none.
func BenchmarkAuthzTranslation(b *testing.B) {
	for _, n := range []int{0, 1, 10, 100} {
		var policies []*model.AuthorizationPolicy
		for i := range n {
			action := "ALLOW"
			if i%2 == 1 {
				action = "DENY"
			}
			policies = append(policies, mkAP(b, "foo", fmt.Sprintf("p%d", i), fmt.Sprintf(`
action: %s
rules:
- from:
  - source:
      principals: ["cluster.local/ns/ns%d/sa/*"]
      notNamespaces: ["evil"]
  to:
  - operation:
      methods: [GET, POST]
      paths: ["/api/v%d/*", "/items/{*}/detail"]
  when:
  - key: request.headers[x-tenant]
    values: ["t%d"]`, action, i, i, i)))
		}
		svc := fxService("httpbin", "foo", "10.96.0.1", []model.Port{fxPort("http", 8000, model.ProtocolHTTP), fxPort("tcp", 9000, model.ProtocolTCP)}, "10.0.0.1")
		svc.Selector = workloadLabels
		snap := model.Build(model.Input{RootNamespace: "istio-system", Services: []*model.Service{svc}, AuthorizationPolicies: policies})
		p := fxSidecarProxy("foo", workloadLabels, "10.0.0.1")
		b.Run(fmt.Sprintf("policies=%d", n), func(b *testing.B) {
			for b.Loop() {
				ForProxy(snap, p)
			}
		})
	}
}
