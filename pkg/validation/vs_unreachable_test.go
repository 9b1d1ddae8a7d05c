package validation

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestUnreachableRules runs the VirtualServices of Istio's analyzer test data
// (pkg/config/analysis/analyzers/testdata/virtualservice_dupmatches.yaml and
// virtualservice_overlappingmatches.yaml, whose expected IST0130/IST0131 messages are in
// analyzers_test.go) and the cases of Istio's TestValidateVirtualService: each warning at its
// field, naming the rule's index and name, and no error.
func TestUnreachableRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		spec     string
		warnings map[string]string // field: a part of the message
	}{
		{name: "sample-foo-cluster01 (IST0130)", spec: `
hosts: [sample.foo.svc.cluster.local]
http:
- fault: {delay: {fixedDelay: 5s, percentage: {value: 100}}}
  route: [{destination: {host: sample.foo.svc.cluster.local}}]
- mirror: {host: sample.bar.svc.cluster.local}
  route: [{destination: {host: sample.bar.svc.cluster.local, subset: v1}}]`,
			warnings: map[string]string{"spec.http[1]": "rule #1 is not used: only the last rule can have no matches, and rule #0 has none"}},
		{name: "duplicate-match (IST0130, IST0131)", spec: `
hosts: [sample.baz.svc.cluster.local]
http:
- name: send /api/v1/products to sample.foo
  match: [{name: prefix /api/v1/products, uri: {prefix: /api/v1/products}}]
  route: [{destination: {host: sample.foo.svc.cluster.local}}]
- name: send /api/v1/products to sample.bar
  match: [{uri: {prefix: /api/v1/products}}]
  route: [{destination: {host: sample.bar.svc.cluster.local, subset: v1}}]`,
			warnings: map[string]string{
				"spec.http[1]":          `rule #1 "send /api/v1/products to sample.bar" is not used: rules before it have all its matches`,
				"spec.http[1].match[0]": `rule #1 "send /api/v1/products to sample.bar" match #0 is not used: rule #0 "send /api/v1/products to sample.foo" has the same match`,
			}},
		{name: "almost-duplicate-match (IST0131)", spec: `
hosts: [sample.bar.svc.cluster.local]
http:
- match: [{uri: {prefix: /api/v1/products}}]
  route: [{destination: {host: sample.foo.svc.cluster.local}}]
- name: send /api/v1/products and /potato to sample.bar
  match:
  - {name: prefix /api/v1/products, uri: {prefix: /api/v1/products}}
  - {name: prefix /potato, uri: {prefix: /potato}}
  route: [{destination: {host: sample.bar.svc.cluster.local, subset: v1}}]`,
			warnings: map[string]string{"spec.http[1].match[0]": `match #0 "prefix /api/v1/products" is not used: rule #0 has the same match`}},
		{name: "duplicate-tcp-match (IST0130, IST0131)", spec: `
hosts: ["*"]
gateways: [tcp-echo-gateway]
tcp:
- match: [{port: 31400}]
  route: [{destination: {host: tcp-echo, port: {number: 9000}, subset: v1}}]
- match: [{port: 31400}]
  route: [{destination: {host: tcp-echo, port: {number: 9000}, subset: v2}}]`,
			warnings: map[string]string{
				"spec.tcp[1]":          "rule #1 is not used: rules before it have all its matches",
				"spec.tcp[1].match[0]": "rule #1 match #0 is not used: rule #0 has the same match",
			}},
		{name: "duplicate-empty-tcp (IST0130)", spec: `
hosts: ["*"]
gateways: [tcp-echo-gateway]
tcp:
- route: [{destination: {host: tcp-echo, port: {number: 9000}, subset: v1}}]
- route: [{destination: {host: tcp-echo, port: {number: 9000}, subset: v2}}]`,
			warnings: map[string]string{"spec.tcp[1]": "only the last rule can have no matches"}},
		{name: "almost-duplicate-tcp-match (IST0131)", spec: `
hosts: ["*"]
gateways: [tcp-echo-gateway]
tcp:
- match: [{port: 31400}]
  route: [{destination: {host: tcp-echo, port: {number: 9000}, subset: v1}}]
- match: [{port: 31400}, {port: 31401}]
  route: [{destination: {host: tcp-echo, port: {number: 9000}, subset: v2}}]`,
			warnings: map[string]string{"spec.tcp[1].match[0]": "rule #1 match #0 is not used"}},
		{name: "tls-routing (IST0130, IST0131)", spec: `
hosts: [www1.googleapis.com, api1.facebook.com]
tls:
- match: [{port: 2443, sniHosts: [www1.googleapis.com]}]
  route: [{destination: {host: www1.googleapis.com}}]
- match: [{port: 2443, sniHosts: [www1.googleapis.com]}]
  route: [{destination: {host: api1.facebook.com}}]`,
			warnings: map[string]string{
				"spec.tls[1]":          "rule #1 is not used",
				"spec.tls[1].match[0]": "rule #1 match #0 is not used: rule #0 has the same match",
			}},
		{name: "tls-routing-almostmatch (IST0131)", spec: `
hosts: [www1.example.com]
tls:
- match: [{port: 2443, sniHosts: [www1.example.com]}]
  route: [{destination: {host: www1.googleapis.com}}]
- match:
  - {port: 2443, sniHosts: [www1.example.com]}
  - {port: 8443, sniHosts: [www1.example.com]}
  route: [{destination: {host: api1.facebook.com}}]`,
			warnings: map[string]string{"spec.tls[1].match[0]": "rule #1 match #0 is not used"}},
		{name: "non-method-get (IST0131)", spec: `
hosts: [sample.baz.svc.cluster.local]
http:
- name: send product to sample.foo
  match:
  - uri: {prefix: /api/v1/product}
  - uri: {prefix: /api/v1/products}
    method: {exact: GET}
  route: [{destination: {host: sample.foo.svc.cluster.local}}]`,
			warnings: map[string]string{"spec.http[0].match[1]": `rule #0 "send product to sample.foo" match #1 (URI prefix /api/v1/products) is not used: match #0 (URI prefix /api/v1/product) of rule #0 "send product to sample.foo" before it takes all its requests`}},
		{name: "uri-with-prefix-exact (no warning)", spec: `
hosts: [sample.baz.svc.cluster.local]
http:
- name: send product to sample.foo
  match:
  - uri: {prefix: /}
  - uri: {exact: /}
    method: {exact: GET}
  route: [{destination: {host: sample.foo.svc.cluster.local}}]`},
		{name: "overlapping-in-single-match (IST0131)", spec: `
hosts: [sample.baz.svc.cluster.local]
http:
- name: send product to sample.foo
  match:
  - {uri: {prefix: /api/v1/product}, method: {exact: GET}}
  - {uri: {prefix: /api/v1/products}, method: {exact: GET}}
  route: [{destination: {host: sample.foo.svc.cluster.local}}]`,
			warnings: map[string]string{"spec.http[0].match[1]": "match #1 (URI prefix /api/v1/products) is not used"}},
		{name: "overlapping-in-two-matches (IST0131)", spec: `
hosts: [sample.baz.svc.cluster.local]
http:
- name: send product to sample.foo
  match: [{uri: {prefix: /api/v1/product}, method: {exact: GET}}]
  route: [{destination: {host: sample.foo.svc.cluster.local}}]
- name: send products to sample.bar
  match: [{uri: {prefix: /api/v1/products}, method: {exact: GET}}]
  route: [{destination: {host: sample.bar.svc.cluster.local, subset: v1}}]`,
			warnings: map[string]string{"spec.http[1].match[0]": `rule #1 "send products to sample.bar" match #0 (URI prefix /api/v1/products) is not used: match #0 (URI prefix /api/v1/product) of rule #0 "send product to sample.foo"`}},
		{name: "overlapping-mathes-with-different-methods (IST0131)", spec: `
hosts: [sample.baz.svc.cluster.local]
http:
- name: send product to sample.foo
  match: [{uri: {prefix: /api/v1/prod}, method: {exact: GET}}]
  route: [{destination: {host: sample.foo.svc.cluster.local}}]
- name: send products to sample.bar
  match:
  - {uri: {prefix: /api/v1/product}, method: {exact: GET}}
  - {uri: {prefix: /api/v1/products}, method: {exact: POST}}
  route: [{destination: {host: sample.bar.svc.cluster.local, subset: v1}}]`,
			warnings: map[string]string{"spec.http[1].match[0]": "match #0 (URI prefix /api/v1/product) is not used"}},
		{name: "a rule after a catch-all", spec: `
hosts: [reviews]
http:
- route: [{destination: {host: reviews}}]
- name: admin
  match: [{uri: {prefix: /admin}}, {uri: {prefix: /debug}}]
  route: [{destination: {host: reviews}}]`,
			warnings: map[string]string{"spec.http[1]": `rule #1 "admin" is not used: rule #0 before it has no matches and takes everything`}},
		{name: "istio docs: reviews by end-user (no warning)", spec: `
hosts: [reviews.prod.svc.cluster.local]
http:
- name: reviews-v2-routes
  match:
  - uri: {prefix: /wpcatalog}
  - uri: {prefix: /consumercatalog}
  rewrite: {uri: /newcatalog}
  route: [{destination: {host: reviews.prod.svc.cluster.local, subset: v2}}]
- name: reviews-v1-route
  route: [{destination: {host: reviews.prod.svc.cluster.local, subset: v1}}]`},
		// Where Istio's string comparison errs, the conditions' meaning decides.
		{name: "a method-less match is not GET only (no warning)", spec: `
hosts: [reviews]
http:
- match: [{uri: {prefix: /api}, method: {exact: GET}}]
  route: [{destination: {host: reviews, subset: v1}}]
- match: [{uri: {prefix: /api/v1}}]
  route: [{destination: {host: reviews, subset: v2}}]`},
		{name: "a header prefix covers a longer one", spec: `
hosts: [reviews]
http:
- match: [{uri: {prefix: /api}, headers: {x-user: {prefix: ab}}}]
  route: [{destination: {host: reviews, subset: v1}}]
- match: [{uri: {prefix: /api/v1}, headers: {x-user: {prefix: abc}, x-other: {exact: z}}}]
  route: [{destination: {host: reviews, subset: v2}}]`,
			warnings: map[string]string{"spec.http[1].match[0]": "is not used"}},
		{name: "a longer header prefix does not cover a shorter one (no warning)", spec: `
hosts: [reviews]
http:
- match: [{uri: {prefix: /api}, headers: {x-user: {prefix: abc}}}]
  route: [{destination: {host: reviews, subset: v1}}]
- match: [{uri: {prefix: /api/v1}, headers: {x-user: {prefix: ab}}}]
  route: [{destination: {host: reviews, subset: v2}}]`},
		{name: "a source-restricted match covers nothing wider (no warning)", spec: `
hosts: [reviews]
http:
- match: [{uri: {prefix: /api}, sourceLabels: {app: a}}]
  route: [{destination: {host: reviews, subset: v1}}]
- match: [{uri: {prefix: /api/v1}}]
  route: [{destination: {host: reviews, subset: v2}}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js, err := yaml.YAMLToJSON([]byte(tc.spec))
			if err != nil {
				t.Fatal(err)
			}
			k, _ := Lookup("networking.istio.io", "v1", "VirtualService")
			r := k.Validate(Object{Namespace: "default", Name: "vs"}, js)
			if len(r.Errors) > 0 {
				t.Errorf("errors: %v", r.Errors)
			}
			var unreachable []Finding
			for _, w := range r.Warnings {
				if strings.Contains(w.Message, "is not used") {
					unreachable = append(unreachable, w)
				}
			}
			if len(unreachable) != len(tc.warnings) {
				t.Errorf("want %d warnings, got %v", len(tc.warnings), unreachable)
			}
			for field, part := range tc.warnings {
				if !slices.ContainsFunc(unreachable, func(f Finding) bool { return f.Field == field && strings.Contains(f.Message, part) }) {
					t.Errorf("want a warning at %s saying %q, got %v", field, part, unreachable)
				}
			}
		})
	}
}
