package translate

import (
	"slices"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"loom.dev/loom/pkg/model"
)

// hasProblem reports whether problems name the object and field.
func hasProblem(problems []model.Problem, kind, object, field string) bool {
	return slices.ContainsFunc(problems, func(p model.Problem) bool {
		return p.Kind == kind && p.Meta.String() == object && p.Field == field
	})
}

// routeSummary lists the routes of a virtual host as "name->cluster" (or
// "name->redirect"/"name->direct" for routes that answer themselves).
func routeSummary(vh *routev3.VirtualHost) []string {
	var out []string
	for _, r := range vh.GetRoutes() {
		target := "direct"
		switch {
		case r.GetRoute().GetCluster() != "":
			target = r.GetRoute().GetCluster()
		case r.GetRoute().GetWeightedClusters() != nil:
			var parts []string
			for _, c := range r.GetRoute().GetWeightedClusters().GetClusters() {
				parts = append(parts, c.GetName())
			}
			target = strings.Join(parts, "+")
		case r.GetRedirect() != nil:
			target = "redirect"
		}
		out = append(out, r.GetName()+"->"+target)
	}
	return out
}

func TestHTTPRouteProblems(t *testing.T) {
	v1 := "outbound|9080|v1|" + reviewsHost
	for _, tc := range []struct {
		name      string
		vs        string
		field     string
		wantRoute []string
	}{
		{
			name: "unknown subset still routes to its cluster",
			vs: `
hosts: [reviews]
http:
- name: a
  route: [{destination: {host: reviews, subset: v9}}]`,
			field:     "spec.http[0].route[0].destination.subset",
			wantRoute: []string{"a->outbound|9080|v9|" + reviewsHost},
		},
		{
			name: "weights not adding up to 100",
			vs: `
hosts: [reviews]
http:
- name: a
  match: [{uri: {prefix: /a}}]
  route: [{destination: {host: reviews, subset: v1}}]
- name: b
  match: [{uri: {prefix: /b}}]
  route: [{destination: {host: reviews, subset: v1}, weight: 60}, {destination: {host: reviews, subset: v2}, weight: 60}]
- name: c
  route: [{destination: {host: reviews, subset: v1}, weight: 90}, {destination: {host: reviews, subset: v2}, weight: 10}]`,
			field:     "spec.http[1].route",
			wantRoute: []string{"a->" + v1, "b->" + v1 + "+outbound|9080|v2|" + reviewsHost, "c->" + v1 + "+outbound|9080|v2|" + reviewsHost},
		},
		{
			name: "all weights 0",
			vs: `
hosts: [reviews]
http:
- name: a
  match: [{uri: {prefix: /a}}]
  route: [{destination: {host: reviews, subset: v1}}, {destination: {host: reviews, subset: v2}}]
- name: b
  route: [{destination: {host: reviews, subset: v1}}]`,
			field:     "spec.http[0].route",
			wantRoute: []string{"b->" + v1},
		},
		{
			name: "negative weight",
			vs: `
hosts: [reviews]
http:
- name: a
  match: [{uri: {prefix: /a}}]
  route: [{destination: {host: reviews, subset: v1}, weight: 110}, {destination: {host: reviews, subset: v2}, weight: -10}]
- name: b
  route: [{destination: {host: reviews, subset: v1}}]`,
			field:     "spec.http[0].route[1].weight",
			wantRoute: []string{"b->" + v1},
		},
		{
			name: "missing port of a multi-port destination: the arrival port, as in Istio",
			vs: `
hosts: [reviews]
http:
- name: a
  match: [{uri: {prefix: /details}}]
  route: [{destination: {host: details}}]
- name: b
  route: [{destination: {host: reviews, subset: v1}}]`,
			field:     "spec.http[0].route[0].destination.port",
			wantRoute: []string{"a->outbound|9080||details.default.svc.cluster.local", "b->" + v1},
		},
		{
			name: "invalid regex",
			vs: `
hosts: [reviews]
http:
- name: a
  match: [{uri: {regex: "/(unclosed"}}]
  route: [{destination: {host: ratings}}]
- name: b
  route: [{destination: {host: reviews, subset: v1}}]`,
			field:     "spec.http[0].match[0].uri.regex",
			wantRoute: []string{"b->" + v1},
		},
		{
			name: "invalid header regex",
			vs: `
hosts: [reviews]
http:
- name: a
  match: [{uri: {prefix: /a}}, {headers: {x: {regex: "a{2,1}"}}}]
  route: [{destination: {host: ratings}}]
- name: b
  route: [{destination: {host: reviews, subset: v1}}]`,
			field:     "spec.http[0].match[1].headers[x]",
			wantRoute: []string{"b->" + v1},
		},
		{
			name: "unknown retry condition is left out of retryOn",
			vs: `
hosts: [reviews]
http:
- name: a
  match: [{uri: {prefix: /a}}]
  retries: {attempts: 3, retryOn: "5xx,sometimes"}
  route: [{destination: {host: ratings}}]
- name: b
  route: [{destination: {host: reviews, subset: v1}}]`,
			field:     "spec.http[0].retries.retryOn",
			wantRoute: []string{"a->outbound|9090||ratings.default.svc.cluster.local", "b->" + v1},
		},
		{
			name: "route and redirect together",
			vs: `
hosts: [reviews]
http:
- name: a
  match: [{uri: {prefix: /a}}]
  redirect: {uri: /b}
  route: [{destination: {host: ratings}}]
- name: b
  route: [{destination: {host: reviews, subset: v1}}]`,
			field:     "spec.http[0]",
			wantRoute: []string{"b->" + v1},
		},
		{
			name: "bad redirect code",
			vs: `
hosts: [reviews]
http:
- name: a
  match: [{uri: {prefix: /a}}]
  redirect: {uri: /b, redirectCode: 200}
- name: b
  route: [{destination: {host: reviews, subset: v1}}]`,
			field:     "spec.http[0].redirect.redirectCode",
			wantRoute: []string{"b->" + v1},
		},
		{
			name: "fault percentage over 100",
			vs: `
hosts: [reviews]
http:
- name: a
  match: [{uri: {prefix: /a}}]
  fault: {abort: {httpStatus: 500, percentage: {value: 150}}}
  route: [{destination: {host: ratings}}]
- name: b
  route: [{destination: {host: reviews, subset: v1}}]`,
			field:     "spec.http[0].fault.abort.percentage",
			wantRoute: []string{"b->" + v1},
		},
		{
			name: "exponential delay is not injected, as in Istio",
			vs: `
hosts: [reviews]
http:
- name: a
  match: [{uri: {prefix: /a}}]
  fault: {delay: {exponentialDelay: 1s, percentage: {value: 10}}}
  route: [{destination: {host: ratings}}]
- name: b
  route: [{destination: {host: reviews, subset: v1}}]`,
			field:     "spec.http[0].fault.delay",
			wantRoute: []string{"a->outbound|9090||ratings.default.svc.cluster.local", "b->" + v1},
		},
		{
			name: "http2Error abort is not injected, as in Istio",
			vs: `
hosts: [reviews]
http:
- name: a
  match: [{uri: {prefix: /a}}]
  fault: {abort: {http2Error: CANCEL, percentage: {value: 10}}, delay: {fixedDelay: 1s, percentage: {value: 5}}}
  route: [{destination: {host: ratings}}]
- name: b
  route: [{destination: {host: reviews, subset: v1}}]`,
			field:     "spec.http[0].fault.abort",
			wantRoute: []string{"a->outbound|9090||ratings.default.svc.cluster.local", "b->" + v1},
		},
		{
			name: "header name with a space",
			vs: `
hosts: [reviews]
http:
- name: a
  match: [{uri: {prefix: /a}}]
  headers: {request: {set: {"bad name": x}}}
  route: [{destination: {host: ratings}}]
- name: b
  route: [{destination: {host: reviews, subset: v1}}]`,
			field:     "spec.http[0].headers.request.set[bad name]",
			wantRoute: []string{"b->" + v1},
		},
		{
			name: "unknown destination host keeps its route",
			vs: `
hosts: [reviews]
http:
- name: a
  route: [{destination: {host: nowhere.example.com}}]`,
			field:     "spec.http[0].route[0].destination.host",
			wantRoute: []string{"a->outbound|9080||nowhere.example.com"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := model.Build(model.Input{
				Services:         mkMesh(),
				VirtualServices:  []*model.VirtualService{mkVS(t, "default", "vs", tc.vs)},
				DestinationRules: []*model.DestinationRule{mkDR(t, "default", "reviews", reviewsSubsets)},
			})
			svc := snap.ServiceFor("default", reviewsHost)
			vh, problems := meshVirtualHost(snap, mkClient("default"), svc, svc.Ports[0], []string{reviewsHost})
			if !hasProblem(problems, "VirtualService", "default/vs", tc.field) {
				t.Errorf("no problem names VirtualService default/vs %s; got %v", tc.field, problems)
			}
			if got := routeSummary(vh); !slices.Equal(got, tc.wantRoute) {
				t.Errorf("routes = %v, want %v", got, tc.wantRoute)
			}
			validateAll(t, Resources{"routes": {&routev3.RouteConfiguration{Name: "r", VirtualHosts: []*routev3.VirtualHost{vh}}}})
		})
	}
}

func TestTwoVirtualServicesForOneHost(t *testing.T) {
	older := mkVS(t, "default", "older", `{hosts: [reviews], http: [{route: [{destination: {host: reviews, subset: v1}}]}]}`)
	older.Created = older.Created.Add(-1)
	newer := mkVS(t, "default", "newer", `{hosts: [reviews.default.svc.cluster.local], http: [{route: [{destination: {host: ratings}}]}]}`)
	snap := model.Build(model.Input{Services: mkMesh(), VirtualServices: []*model.VirtualService{newer, older},
		DestinationRules: []*model.DestinationRule{mkDR(t, "default", "reviews", reviewsSubsets)}})
	if !hasProblem(snap.Problems(), "VirtualService", "default/newer", "spec.hosts") {
		t.Errorf("the newer VirtualService must be reported: %v", snap.Problems())
	}
	svc := snap.ServiceFor("default", reviewsHost)
	vh, problems := meshVirtualHost(snap, mkClient("default"), svc, svc.Ports[0], []string{reviewsHost})
	if got := routeSummary(vh); !slices.Equal(got, []string{"->outbound|9080|v1|" + reviewsHost}) || len(problems) > 0 {
		t.Errorf("the older VirtualService must win: routes %v, problems %v", got, problems)
	}
}
