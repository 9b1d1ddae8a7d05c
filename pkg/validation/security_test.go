package validation

import "testing"

func TestPeerAuthentication(t *testing.T) {
	runCases(t, "security.istio.io", "PeerAuthentication", []testCase{
		{name: "istio docs: namespace strict", spec: `mtls: {mode: STRICT}`},
		{name: "istio docs: port level", spec: `
selector: {matchLabels: {app: finance}}
mtls: {mode: STRICT}
portLevelMtls:
  8080: {mode: DISABLE}`},
		{name: "port level without selector", want: "spec.portLevelMtls", spec: `
mtls: {mode: STRICT}
portLevelMtls:
  8080: {mode: DISABLE}`},
		{name: "empty port level", want: "spec.portLevelMtls", spec: `
selector: {matchLabels: {app: finance}}
portLevelMtls: {}`},
		{name: "port 0", want: "spec.portLevelMtls[0]", spec: `
selector: {matchLabels: {app: finance}}
portLevelMtls:
  0: {mode: DISABLE}`},
		{name: "wildcard selector", want: "spec.selector.matchLabels[app]", spec: `
selector: {matchLabels: {app: "*"}}`},
		{name: "empty selector warns", warn: "spec.selector.matchLabels", spec: `
selector: {}
mtls: {mode: STRICT}`},
	})
}

func TestRequestAuthentication(t *testing.T) {
	runCases(t, "security.istio.io", "RequestAuthentication", []testCase{
		{name: "istio docs: jwt", spec: `
selector: {matchLabels: {app: httpbin}}
jwtRules:
- issuer: issuer-foo
  jwksUri: https://example.com/.well-known/jwks.json
  outputClaimToHeaders: [{header: x-jwt-claim-foo, claim: foo}]`},
		{name: "no issuer nor jwksUri", want: "spec.jwtRules[0].issuer", spec: `
jwtRules: [{audiences: [a]}]`},
		{name: "bad jwksUri", want: "spec.jwtRules[0].jwksUri", spec: `
jwtRules: [{issuer: a, jwksUri: "ftp://example.com/keys"}]`},
		{name: "bad jwks", want: "spec.jwtRules[0].jwks", spec: `
jwtRules: [{issuer: a, jwks: "not json"}]`},
		{name: "private jwks warns", warn: "spec.jwtRules[0].jwks", spec: `
jwtRules: [{issuer: a, jwks: '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}'}]`},
		{name: "bad output header", want: "spec.jwtRules[0].outputClaimToHeaders[0].header", spec: `
jwtRules: [{issuer: a, outputClaimToHeaders: [{header: "x:y", claim: c}]}]`},
		{name: "selector and targetRef", want: "spec", spec: `
selector: {matchLabels: {app: a}}
targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: gw}`},
		{name: "targetRef to a Deployment", want: "spec.targetRef.kind", spec: `
targetRef: {kind: Deployment, group: apps, name: d}`},
	})
}

func TestAuthorizationPolicy(t *testing.T) {
	runCases(t, "security.istio.io", "AuthorizationPolicy", []testCase{
		{name: "istio docs: allow httpbin", spec: `
selector: {matchLabels: {app: httpbin, version: v1}}
action: ALLOW
rules:
- from:
  - source: {principals: [cluster.local/ns/default/sa/sleep]}
  - source: {namespaces: [dev]}
  to:
  - operation: {methods: [GET]}
  when:
  - key: request.auth.claims[iss]
    values: [https://accounts.google.com]`},
		{name: "istio docs: deny all", spec: `
action: DENY
rules: [{}]`},
		{name: "istio docs: allow nothing", spec: `{}`},
		{name: "istio docs: custom", spec: `
action: CUSTOM
provider: {name: my-ext-authz}
rules:
- to: [{operation: {paths: ["/admin/*"], ports: ["8080"]}}]`},
		{name: "istio docs: path template", spec: `
rules:
- to: [{operation: {paths: ["/foo/{*}/bar/{**}"]}}]`},

		{name: "DENY without rules", want: "spec.rules", spec: `action: DENY`},
		{name: "CUSTOM without provider", want: "spec.provider.name", spec: `
action: CUSTOM
rules: [{}]`},
		{name: "provider without CUSTOM", want: "spec.provider", spec: `
provider: {name: p}
rules: [{}]`},
		{name: "CUSTOM with principals", want: "spec.rules[0].from[0].source.principals", spec: `
action: CUSTOM
provider: {name: p}
rules: [{from: [{source: {principals: [a]}}]}]`},
		{name: "empty from", want: "spec.rules[0].from", spec: `
rules: [{from: []}]`},
		{name: "empty to", want: "spec.rules[0].to", spec: `
rules: [{to: []}]`},
		{name: "empty source", want: "spec.rules[0].from[0].source", spec: `
rules: [{from: [{source: {}}]}]`},
		{name: "bad path template", want: "spec.rules[0].to[0].operation.paths", spec: `
rules: [{to: [{operation: {paths: ["/foo/{**}/bar/{*}"]}}]}]`},
		{name: "bad port", want: "spec.rules[0].to[0].operation.ports", spec: `
rules: [{to: [{operation: {ports: ["http"]}}]}]`},
		{name: "bad ip block", want: "spec.rules[0].from[0].source.ipBlocks", spec: `
rules: [{from: [{source: {ipBlocks: ["10.0.0.0/33"]}}]}]`},
		{name: "unknown condition key", want: "spec.rules[0].when[0].values", spec: `
rules: [{when: [{key: request.color, values: [red]}]}]`},
		{name: "condition without values", want: "spec.rules[0].when[0]", spec: `
rules: [{when: [{key: source.ip}]}]`},
		{name: "service accounts with namespaces", want: "spec.rules[0].from[0].source", spec: `
rules: [{from: [{source: {namespaces: [a], serviceAccounts: [a/b]}}]}]`},
		{name: "HTTP-only DENY warns", warn: "spec.rules[0]", spec: `
action: DENY
rules: [{to: [{operation: {methods: [POST]}}]}]`},
	})
}
