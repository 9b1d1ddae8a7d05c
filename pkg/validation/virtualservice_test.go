package validation

import (
	"strings"
	"testing"
)

func TestVirtualService(t *testing.T) {
	runCases(t, "networking.istio.io", "VirtualService", []testCase{
		{name: "istio docs: reviews by end-user", spec: `
hosts: [reviews.prod.svc.cluster.local]
http:
- name: reviews-v2-routes
  match:
  - uri: {prefix: /wpcatalog}
  - uri: {prefix: /consumercatalog}
  rewrite: {uri: /newcatalog}
  route:
  - destination: {host: reviews.prod.svc.cluster.local, subset: v2}
- name: reviews-v1-route
  route:
  - destination: {host: reviews.prod.svc.cluster.local, subset: v1}`},
		{name: "istio docs: weighted split 75/25", spec: `
hosts: [reviews]
http:
- route:
  - destination: {host: reviews, subset: v1}
    weight: 75
  - destination: {host: reviews, subset: v3}
    weight: 25`},
		{name: "istio docs: fault and retries", spec: `
hosts: [ratings]
http:
- match:
  - headers:
      end-user: {exact: jason}
  fault:
    delay: {percentage: {value: 100.0}, fixedDelay: 7s}
  route:
  - destination: {host: ratings, subset: v1}
- route:
  - destination: {host: ratings, subset: v1}
  retries: {attempts: 3, perTryTimeout: 2s, retryOn: "gateway-error,connect-failure,refused-stream"}
  timeout: 10s`},
		{name: "istio docs: delegate root", spec: `
hosts: ["*.example.com"]
gateways: [istio-system/ingress]
http:
- match: [{uri: {prefix: /productpage}}]
  delegate: {name: productpage, namespace: nsA}`},
		{name: "istio docs: delegate", spec: `
http:
- match: [{uri: {prefix: /productpage/v1/}}]
  route: [{destination: {host: productpage-v1.nsA.svc.cluster.local}}]`},
		{name: "tcp and tls routes", spec: `
hosts: [mongo.prod.svc.cluster.local, "*.bookinfo.com"]
tcp:
- match: [{port: 27017}]
  route: [{destination: {host: mongo.backup.svc.cluster.local, port: {number: 5555}}}]
tls:
- match: [{port: 443, sniHosts: [login.bookinfo.com]}]
  route: [{destination: {host: login.prod.svc.cluster.local}}]`},

		{name: "regex RE2 refuses", want: "spec.http[0].match[0].uri.regex", spec: `
hosts: [reviews]
http:
- match: [{uri: {regex: "^/(?!admin)"}}]
  route: [{destination: {host: reviews}}]`},
		{name: "header regex RE2 refuses", want: "spec.http[0].match[0].headers[x-user]", spec: `
hosts: [reviews]
http:
- match: [{headers: {x-user: {regex: "(a)\\1"}}}]
  route: [{destination: {host: reviews}}]`},
		{name: "regex too long", want: "spec.http[0].match[0].uri.regex", spec: `
hosts: [reviews]
http:
- match: [{uri: {regex: "` + strings.Repeat("a", 1025) + `"}}]
  route: [{destination: {host: reviews}}]`},
		{name: "bad header name", want: "spec.http[0].match[0].headers[bad header]", spec: `
hosts: [reviews]
http:
- match: [{headers: {"bad header": {exact: x}}}]
  route: [{destination: {host: reviews}}]`},
		{name: "negative weight", want: "spec.http[0].route[1].weight", spec: `
hosts: [reviews]
http:
- route:
  - {destination: {host: reviews, subset: v1}, weight: 100}
  - {destination: {host: reviews, subset: v2}, weight: -10}`},
		{name: "all-zero weights", want: "spec.http[0].route", spec: `
hosts: [reviews]
http:
- route:
  - {destination: {host: reviews, subset: v1}}
  - {destination: {host: reviews, subset: v2}}`},
		{name: "weights not adding up to 100 only warn", warn: "spec.http[0].route", spec: `
hosts: [reviews]
http:
- route:
  - {destination: {host: reviews, subset: v1}, weight: 50}
  - {destination: {host: reviews, subset: v2}, weight: 40}`},
		{name: "single destination weight warns", warn: "spec.http[0].route[0].weight", spec: `
hosts: [reviews]
http:
- route: [{destination: {host: reviews}, weight: 50}]`},
		{name: "bad subset name", want: "spec.http[0].route[0].destination.subset", spec: `
hosts: [reviews]
http:
- route: [{destination: {host: reviews, subset: v1_beta}}]`},
		{name: "mesh wildcard host", want: "spec.hosts[0]", spec: `
hosts: ["*"]
http: [{route: [{destination: {host: reviews}}]}]`},
		{name: "duplicate hosts", want: "spec.hosts[1]", spec: `
hosts: ["*.foo.com", "bar.foo.com"]
http: [{route: [{destination: {host: reviews}}]}]`},
		{name: "bad host", want: "spec.hosts[0]", spec: `
hosts: ["foo*.bar.com"]
http: [{route: [{destination: {host: reviews}}]}]`},
		{name: "no routes", want: "spec", spec: `hosts: [reviews]`},
		{name: "delegate with gateways", want: "spec.gateways", spec: `
gateways: [gw]
http: [{route: [{destination: {host: reviews}}]}]`},
		{name: "delegate delegating again", want: "spec.http[0].delegate", spec: `
http: [{delegate: {name: other}}]`},
		{name: "root delegating and routing", want: "spec.http[0].route", spec: `
hosts: [reviews]
http: [{delegate: {name: other}, route: [{destination: {host: reviews}}]}]`},
		{name: "redirect and route", want: "spec.http[0].route", spec: `
hosts: [reviews]
http: [{redirect: {uri: /v2}, route: [{destination: {host: reviews}}]}]`},
		{name: "negative timeout", want: "spec.http[0].timeout", spec: `
hosts: [reviews]
http: [{timeout: -1s, route: [{destination: {host: reviews}}]}]`},
		{name: "sub-millisecond timeout", want: "spec.http[0].timeout", spec: `
hosts: [reviews]
http: [{timeout: 0.0005s, route: [{destination: {host: reviews}}]}]`},
		{name: "fault percentage out of range", want: "spec.http[0].fault.abort.percentage", spec: `
hosts: [reviews]
http: [{fault: {abort: {httpStatus: 500, percentage: {value: 101}}}, route: [{destination: {host: reviews}}]}]`},
		{name: "header value with a lone %", want: "spec.http[0].headers.request.set[x-a]", spec: `
hosts: [reviews]
http: [{headers: {request: {set: {x-a: "50%"}}}, route: [{destination: {host: reviews}}]}]`},
		{name: "removing host", want: "spec.http[0].route[0].headers.request.remove[0]", spec: `
hosts: [reviews]
http: [{route: [{destination: {host: reviews}, headers: {request: {remove: [host]}}}]}]`},
		{name: "JWT claim routing on mesh", want: "spec.http[0].match[0].headers[@request.auth.claims.group]", spec: `
hosts: [reviews]
http: [{match: [{headers: {"@request.auth.claims.group": {exact: admin}}}], route: [{destination: {host: reviews}}]}]`},
		{name: "bad retryOn", want: "spec.http[0].retries.retryOn", spec: `
hosts: [reviews]
http: [{retries: {attempts: 2, retryOn: "5xx,sometimes"}, route: [{destination: {host: reviews}}]}]`},
		{name: "SNI not covered by hosts", want: "spec.tls[0].match[0].sniHosts[0]", spec: `
hosts: ["*.bookinfo.com"]
tls: [{match: [{sniHosts: [login.example.com]}], route: [{destination: {host: login}}]}]`},
		{name: "unreachable rule warns", warn: "spec.http[1]", spec: `
hosts: [reviews]
http:
- route: [{destination: {host: reviews}}]
- match: [{uri: {prefix: /a}}]
  route: [{destination: {host: reviews}}]`},
		{name: "unknown field refused", want: "spec.htp", spec: `
hosts: [reviews]
htp: []`},
		{name: "StringMatch with exact and prefix refused", want: "spec.http[0].match[0].uri", spec: `
hosts: [reviews]
http: [{match: [{uri: {exact: /a, prefix: /b}}], route: [{destination: {host: reviews}}]}]`},
		{name: "unknown nested field refused", want: "spec.http[0].route[0].destination.hots", spec: `
hosts: [reviews]
http: [{route: [{destination: {hots: reviews}}]}]`},
		{name: "wrong type named", want: "spec.hosts", spec: `
hosts: reviews
http: [{route: [{destination: {host: reviews}}]}]`},
		{name: "bad duration named", want: "spec.http[0].timeout", spec: `
hosts: [reviews]
http: [{timeout: soon, route: [{destination: {host: reviews}}]}]`},
		{name: "Go-style durations as the CRD admits", spec: `
hosts: [reviews]
http: [{timeout: 1m30s, retries: {attempts: 2, perTryTimeout: 500ms}, route: [{destination: {host: reviews}}]}]`},
	})
}
