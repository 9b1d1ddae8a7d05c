package translate

import (
	"slices"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"loom.dev/loom/pkg/model"
)

func TestDelegatedRoutes(t *testing.T) {
	root := mkVS(t, "default", "root", `
hosts: [reviews]
http:
- name: root
  match: [{uri: {prefix: /team}}]
  timeout: 7s
  delegate: {name: team-routes, namespace: team}
- name: missing
  match: [{uri: {prefix: /missing}}]
  delegate: {name: nobody}
- name: rest
  route: [{destination: {host: reviews, subset: v1}}]`)
	delegate := mkVS(t, "team", "team-routes", `
http:
- name: v2
  match: [{uri: {prefix: /team/v2}, headers: {x-user: {exact: ada}}}]
  route: [{destination: {host: reviews.default.svc.cluster.local, subset: v2}}]
- name: elsewhere
  match: [{uri: {prefix: /other}}]
  route: [{destination: {host: ratings.default.svc.cluster.local}}]
- name: backend
  route: [{destination: {host: backend}}]`)
	services := append(mkMesh(), mkService("backend", "team", mkPorts("http:80"), mkEndpoint("10.3.0.1")))
	snap := model.Build(model.Input{
		Services:         services,
		VirtualServices:  []*model.VirtualService{root, delegate},
		DestinationRules: []*model.DestinationRule{mkDR(t, "default", "reviews", reviewsSubsets)},
	})
	svc := snap.ServiceFor("default", reviewsHost)
	vh, problems := meshVirtualHost(snap, mkClient("default"), svc, svc.Ports[0], []string{reviewsHost})

	// The delegate's routes replace the delegating one, their matches
	// narrowed by the root's (a conflicting one is dropped), their short
	// hosts resolved in the delegate's namespace, the root's timeout kept.
	want := []string{
		"root-v2->outbound|9080|v2|" + reviewsHost,
		"root-backend->outbound|80||backend.team.svc.cluster.local",
		"rest->outbound|9080|v1|" + reviewsHost,
	}
	if got := routeSummary(vh); !slices.Equal(got, want) {
		t.Errorf("routes = %v, want %v", got, want)
	}
	if !hasProblem(problems, "VirtualService", "default/root", "spec.http[1].delegate") {
		t.Errorf("the missing delegate must be reported: %v", problems)
	}
	rc := &routev3.RouteConfiguration{Name: reviewsHost + ":9080", VirtualHosts: []*routev3.VirtualHost{vh}}
	assertGolden(t, "route/delegate", Resources{resourcev3.RouteType: []types.Resource{rc}}, problems)
}

func TestDelegateNotExportedToRoot(t *testing.T) {
	root := mkVS(t, "default", "root", `{hosts: [reviews], http: [{delegate: {name: private, namespace: team}}]}`)
	private := mkVS(t, "team", "private", `{exportTo: ["."], http: [{route: [{destination: {host: ratings.default.svc.cluster.local}}]}]}`)
	snap := model.Build(model.Input{Services: mkMesh(), VirtualServices: []*model.VirtualService{root, private}})
	svc := snap.ServiceFor("default", reviewsHost)
	vh, problems := meshVirtualHost(snap, mkClient("default"), svc, svc.Ports[0], []string{reviewsHost})
	if !hasProblem(problems, "VirtualService", "default/root", "spec.http[0].delegate") {
		t.Errorf("problems = %v", problems)
	}
	// Nothing of the root applies: the host keeps its default route.
	if got := routeSummary(vh); !slices.Equal(got, []string{"default->outbound|9080||" + reviewsHost}) {
		t.Errorf("routes = %v", got)
	}
}
