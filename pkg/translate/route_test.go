package translate

import (
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"loom.dev/loom/pkg/model"
)

const reviewsHost = "reviews.default.svc.cluster.local"

// reviewsSubsets defines subsets v1..v3 of reviews.
const reviewsSubsets = `
host: reviews
subsets:
- {name: v1, labels: {version: v1}}
- {name: v2, labels: {version: v2}}
- {name: v3, labels: {version: v3}}`

type routeCase struct {
	name  string
	vs    []string // VirtualService specs in namespace default, named vs0, vs1...
	dr    string   // optional DestinationRule spec for reviews
	proxy model.Proxy
}

// vhostFor translates the virtual host of reviews:9080 as proxy sees it,
// wrapped in a RouteConfiguration.
func vhostFor(t *testing.T, tc routeCase) (Resources, []model.Problem) {
	t.Helper()
	in := model.Input{Services: mkMesh()}
	for i, spec := range tc.vs {
		in.VirtualServices = append(in.VirtualServices, mkVS(t, "default", "vs"+string(rune('0'+i)), spec))
	}
	if tc.dr != "" {
		in.DestinationRules = []*model.DestinationRule{mkDR(t, "default", "reviews", tc.dr)}
	}
	snap := model.Build(in)
	if len(snap.Problems()) > 0 {
		t.Fatalf("fixture problems: %v", snap.Problems())
	}
	svc := snap.ServiceFor("default", reviewsHost)
	proxy := tc.proxy
	if proxy.Kind == "" {
		proxy = mkClient("default", "app=productpage")
	}
	vh, problems := meshVirtualHost(snap, proxy, svc, svc.Ports[0], []string{reviewsHost, reviewsHost + ":9080"})
	rc := &routev3.RouteConfiguration{Name: reviewsHost + ":9080", VirtualHosts: []*routev3.VirtualHost{vh}}
	return Resources{resourcev3.RouteType: []types.Resource{rc}}, problems
}

func TestMeshVirtualHostGolden(t *testing.T) {
	sidecar := model.Proxy{ID: "sidecar", Kind: model.KindSidecar, Namespace: "default", Labels: map[string]string{"app": "productpage"}}
	for _, tc := range []routeCase{
		{name: "default"},
		{name: "default-consistent-hash", dr: `
host: reviews
trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}`},
		{name: "match-uri", vs: []string{`
hosts: [reviews]
http:
- name: exact
  match: [{uri: {exact: /health}}]
  route: [{destination: {host: reviews, subset: v1}}]
- name: prefix-or-regex
  match:
  - {name: api, uri: {prefix: /api/}, ignoreUriCase: true, statPrefix: reviews_api}
  - {name: re, uri: {regex: "/v[0-9]+/.*"}}
  route: [{destination: {host: reviews, subset: v2}}]
- route: [{destination: {host: reviews, subset: v3}}]`}, dr: reviewsSubsets},
		{name: "match-headers", vs: []string{`
hosts: [reviews]
http:
- match:
  - headers:
      end-user: {exact: jason}
      x-trace: {}
      x-version: {regex: "v[12]"}
      x-any: {regex: "*"}
    withoutHeaders:
      x-canary: {prefix: "yes"}
      x-debug: {}
    method: {exact: POST}
    authority: {prefix: "reviews"}
    scheme: {exact: https}
  route: [{destination: {host: reviews}}]`}},
		{name: "match-query", vs: []string{`
hosts: [reviews]
http:
- match: [{queryParams: {debug: {exact: "1"}, id: {regex: "[0-9]+"}, flag: {}, lang: {prefix: en}}}]
  route: [{destination: {host: ratings}}]
- route: [{destination: {host: reviews}}]`}},
		{name: "match-source", vs: []string{`
hosts: [reviews]
http:
- name: wrong-port
  match: [{port: 8000}]
  route: [{destination: {host: ratings}}]
- name: right-port-and-labels
  match: [{port: 9080, sourceLabels: {app: productpage}, uri: {prefix: /labels}}]
  route: [{destination: {host: reviews, subset: v1}}]
- name: other-labels
  match: [{sourceLabels: {app: other}}]
  route: [{destination: {host: ratings}}]
- name: other-namespace
  match: [{sourceNamespace: shop}]
  route: [{destination: {host: ratings}}]
- name: gateway-only
  match: [{gateways: [ingress]}]
  route: [{destination: {host: ratings}}]
- name: mesh-gateway
  match: [{gateways: [mesh], uri: {prefix: /mesh}}]
  route: [{destination: {host: reviews, subset: v2}}]
- route: [{destination: {host: reviews, subset: v3}}]`}, dr: reviewsSubsets},
		{name: "weights", vs: []string{`
hosts: [reviews]
http:
- route:
  - destination: {host: reviews, subset: v1}
    weight: 80
    headers: {request: {set: {x-subset: v1}}}
  - destination: {host: reviews, subset: v2}
    weight: 20
    headers: {response: {add: {x-subset: v2}}, request: {set: {":authority": reviews-v2}}}
  - destination: {host: reviews, subset: v3}
    weight: 0`}, dr: reviewsSubsets},
		{name: "redirect", vs: []string{`
hosts: [reviews]
http:
- match: [{uri: {exact: /old}}]
  redirect: {uri: /new, authority: new.example.com, redirectCode: 308}
- match: [{uri: {prefix: /secure}}]
  redirect: {scheme: https, port: 443}
- match: [{uri: {prefix: /here}}]
  redirect: {derivePort: FROM_REQUEST_PORT, prefixRewrite: /there}
- directResponse: {status: 418, body: {string: "short and stout"}}`}},
		{name: "rewrite", vs: []string{`
hosts: [reviews]
http:
- match: [{uri: {prefix: /v1/}}]
  rewrite: {uri: /, authority: reviews.internal}
  route: [{destination: {host: reviews}}]
- match: [{uri: {regex: "/users/[0-9]+"}}]
  rewrite: {uriRegexRewrite: {match: "^/users/([0-9]+)$", rewrite: "/u/\\1"}}
  route: [{destination: {host: reviews}}]`}},
		{name: "timeout-retries", vs: []string{`
hosts: [reviews]
http:
- match: [{uri: {prefix: /slow}}]
  timeout: 3s
  retries: {attempts: 4, perTryTimeout: 1s, retryOn: "unavailable,deadline-exceeded,503,gateway-error", backoff: 0.050s, retryRemoteLocalities: true}
  route: [{destination: {host: reviews}}]
- match: [{uri: {prefix: /once}}]
  retries: {attempts: 0}
  route: [{destination: {host: reviews}}]
- route: [{destination: {host: reviews}}]`}},
		{name: "timeout-sidecar", proxy: sidecar, vs: []string{`
hosts: [reviews]
http:
- timeout: 2.5s
  route: [{destination: {host: reviews}}]`}},
		{name: "fault", vs: []string{`
hosts: [reviews]
http:
- match: [{uri: {prefix: /delay}}]
  fault: {delay: {fixedDelay: 5s, percentage: {value: 10}}}
  route: [{destination: {host: reviews}}]
- match: [{uri: {prefix: /abort}}]
  fault: {abort: {httpStatus: 503, percentage: {value: 0.5}}, delay: {fixedDelay: 1s, percent: 20}}
  route: [{destination: {host: reviews}}]
- fault: {abort: {grpcStatus: UNAVAILABLE}}
  route: [{destination: {host: reviews}}]`}},
		{name: "mirror", vs: []string{`
hosts: [reviews]
http:
- match: [{uri: {prefix: /one}}]
  mirror: {host: reviews, subset: v3}
  mirrorPercentage: {value: 25}
  route: [{destination: {host: reviews, subset: v1}}]
- mirrors:
  - destination: {host: ratings}
  - destination: {host: reviews, subset: v2}
    percentage: {value: 50}
  - destination: {host: reviews, subset: v3}
    percentage: {value: 0}
  route: [{destination: {host: reviews, subset: v1}}]`}, dr: reviewsSubsets},
		{name: "headers", vs: []string{`
hosts: [reviews]
http:
- headers:
    request:
      set: {x-b: "2", x-a: "1", host: reviews.internal}
      add: {x-c: "3"}
      remove: [x-secret]
    response:
      set: {cache-control: no-store}
      remove: [server]
  route:
  - destination: {host: reviews}
    headers: {request: {add: {x-dest: reviews}}}`}},
		{name: "cors-sidecar", proxy: sidecar, vs: []string{`
hosts: [reviews]
http:
- corsPolicy:
    allowOrigins: [{exact: "https://example.com"}, {prefix: "https://dev."}, {regex: "https://.*\\.example\\.org"}]
    allowMethods: [GET, POST]
    allowHeaders: [x-token]
    exposeHeaders: [x-request-id]
    maxAge: 86400s
    allowCredentials: true
    unmatchedPreflights: IGNORE
  fault: {abort: {httpStatus: 500, percentage: {value: 1}}}
  route: [{destination: {host: reviews}}]`}},
		{name: "cors-grpc-ignored", vs: []string{`
hosts: [reviews]
http:
- corsPolicy: {allowOrigins: [{exact: "https://example.com"}]}
  route: [{destination: {host: reviews}}]`}},
		{name: "hash-policy", vs: []string{`
hosts: [reviews]
http:
- match: [{uri: {prefix: /cookie}}]
  route: [{destination: {host: reviews, subset: v2}}]
- route: [{destination: {host: reviews, subset: v1}}]`}, dr: `
host: reviews
trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}
subsets:
- {name: v1, labels: {version: v1}}
- name: v2
  labels: {version: v2}
  trafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: session, ttl: 60s, path: /}}}}`},
		{name: "catch-all-stops", vs: []string{`
hosts: [reviews]
http:
- match: [{uri: {prefix: /a}}, {uri: {prefix: /}}, {uri: {prefix: /never}}]
  route: [{destination: {host: reviews}}]
- route: [{destination: {host: ratings}}]`}},
		{name: "no-route-applies", vs: []string{`
hosts: [reviews]
http:
- match: [{sourceLabels: {app: other}}]
  route: [{destination: {host: ratings}}]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, problems := vhostFor(t, tc)
			assertGolden(t, "route/"+tc.name, res, problems)
			if len(problems) > 0 {
				t.Errorf("unexpected problems: %v", problems)
			}
		})
	}
}
