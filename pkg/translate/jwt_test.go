package translate

import (
	"slices"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	security "istio.io/api/security/v1beta1"

	"loom.dev/loom/pkg/model"
)

const testJWKS = `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`

func mkRA(t testing.TB, ns, name, spec string) *model.RequestAuthentication {
	return &model.RequestAuthentication{Meta: mkMeta(ns, name), Spec: mkSpec(t, spec, &security.RequestAuthentication{})}
}

// jwtMesh is authzMesh with RequestAuthentications and the keys fetched
// for https://issuer.example/jwks.
func jwtMesh(t testing.TB, ras []*model.RequestAuthentication, aps ...*model.AuthorizationPolicy) *model.Snapshot {
	svc := fxService("httpbin", "foo", "10.96.0.1", []model.Port{fxPort("http", 8000, model.ProtocolHTTP), fxPort("tcp", 9000, model.ProtocolTCP)}, "10.0.0.1")
	svc.Selector = workloadLabels
	return model.Build(model.Input{
		RootNamespace:          "istio-system",
		Services:               []*model.Service{svc},
		Gateways:               []*model.Gateway{fxGateway("gw", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "*"))},
		AuthorizationPolicies:  aps,
		RequestAuthentications: ras,
		FetchedJWKS: map[model.JWKSSource]model.FetchedJWKS{
			{Issuer: "https://issuer.example", URI: "https://issuer.example/jwks"}: {Keys: testJWKS},
		},
	})
}

// jwtConfigs unpacks the jwt_authn config of every HCM chain, by chain.
func jwtConfigs(t *testing.T, res Resources) map[string]*jwtv3.JwtAuthentication {
	t.Helper()
	out := map[string]*jwtv3.JwtAuthentication{}
	for _, r := range res[resourcev3.ListenerType] {
		l := r.(*listenerv3.Listener)
		for _, c := range l.GetFilterChains() {
			for _, f := range c.GetFilters() {
				if f.GetName() != hcmFilterName {
					continue
				}
				var hcm hcmv3.HttpConnectionManager
				if err := f.GetTypedConfig().UnmarshalTo(&hcm); err != nil {
					t.Fatal(err)
				}
				for _, hf := range hcm.GetHttpFilters() {
					if hf.GetName() == jwtFilterName {
						cfg := &jwtv3.JwtAuthentication{}
						if err := hf.GetTypedConfig().UnmarshalTo(cfg); err != nil {
							t.Fatal(err)
						}
						out[l.GetName()+"/"+c.GetName()] = cfg
					}
				}
			}
		}
	}
	return out
}

const fullRule = `
selector: {matchLabels: {app: httpbin}}
jwtRules:
- issuer: https://issuer.example
  jwksUri: https://issuer.example/jwks
  audiences: [a, b]
  fromHeaders: [{name: x-jwt, prefix: "Bearer "}]
  fromParams: [token]
  fromCookies: [session]
  outputPayloadToHeader: x-payload
  forwardOriginalToken: true
  outputClaimToHeaders: [{header: x-sub, claim: sub}]
  spaceDelimitedClaims: [roles]
  timeout: 3s`

// One rule: every field lands on its provider, the keys are the fetched
// ones, and the requirement is Istio's {provider OR allow_missing}.
func TestJWTProviderFields(t *testing.T) {
	snap := jwtMesh(t, []*model.RequestAuthentication{mkRA(t, "foo", "ra", fullRule)})
	cfg, problems := buildJWTAuthn(snap.JWTRulesFor("foo", workloadLabels))
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	if err := cfg.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	want := &jwtv3.JwtProvider{
		Issuer: "https://issuer.example", Audiences: []string{"a", "b"}, Forward: true, ForwardPayloadHeader: "x-payload",
		PayloadInMetadata:          "payload",
		NormalizePayloadInMetadata: &jwtv3.JwtProvider_NormalizePayload{SpaceDelimitedClaims: []string{"permission", "roles", "scope"}},
		FromHeaders:                []*jwtv3.JwtHeader{{Name: "x-jwt", ValuePrefix: "Bearer "}},
		FromParams:                 []string{"token"}, FromCookies: []string{"session"},
		ClaimToHeaders:      []*jwtv3.JwtClaimToHeader{{HeaderName: "x-sub", ClaimName: "sub"}},
		JwksSourceSpecifier: localJWKS(testJWKS),
	}
	if got := cfg.GetProviders()["origins-0"]; !proto.Equal(got, want) {
		t.Errorf("provider\n%v\nwant\n%v", got, want)
	}
	wantReq := `{"requiresAny":{"requirements":[{"providerName":"origins-0"},{"allowMissing":{}}]}}`
	if got := compactJSON(t, cfg.GetRules()[0].GetRequires()); got != wantReq {
		t.Errorf("requirement %s, want %s", got, wantReq)
	}
	if cfg.GetRules()[0].GetMatch().GetPrefix() != "/" || !cfg.GetBypassCorsPreflight() {
		t.Errorf("rule %v, bypass CORS %v", cfg.GetRules()[0].GetMatch(), cfg.GetBypassCorsPreflight())
	}
}

// Several rules (merged from several policies): providers in issuer order,
// duplicate issuers kept, and Istio's {P0 OR P1 OR ... OR AND{Pi OR
// allow_missing}} requirement.
func TestJWTRequirementOfSeveralProviders(t *testing.T) {
	snap := jwtMesh(t, []*model.RequestAuthentication{
		mkRA(t, "istio-system", "mesh", `jwtRules: [{issuer: z, jwks: '`+testJWKS+`'}]`),
		mkRA(t, "foo", "ns", `jwtRules: [{issuer: b, jwks: '`+testJWKS+`'}, {issuer: z, jwks: '`+testJWKS+`'}]`),
	})
	cfg, problems := buildJWTAuthn(snap.JWTRulesFor("foo", workloadLabels))
	if len(problems) > 0 || cfg.ValidateAll() != nil {
		t.Fatalf("problems %v, validation %v", problems, cfg.ValidateAll())
	}
	var issuers []string
	for _, name := range []string{"origins-0", "origins-1", "origins-2"} {
		issuers = append(issuers, cfg.GetProviders()[name].GetIssuer())
	}
	if !slices.Equal(issuers, []string{"b", "z", "z"}) || len(cfg.GetProviders()) != 3 {
		t.Errorf("issuers %v of %d providers", issuers, len(cfg.GetProviders()))
	}
	inner := func(i string) string {
		return `{"requiresAny":{"requirements":[{"providerName":"origins-` + i + `"},{"allowMissing":{}}]}}`
	}
	want := `{"requiresAny":{"requirements":[{"providerName":"origins-0"},{"providerName":"origins-1"},{"providerName":"origins-2"},` +
		`{"requiresAll":{"requirements":[` + inner("0") + `,` + inner("1") + `,` + inner("2") + `]}}]}}`
	if got := compactJSON(t, cfg.GetRules()[0].GetRequires()); got != want {
		t.Errorf("requirement\n%s\nwant\n%s", got, want)
	}
}

// An invalid rule, or keys never fetched, fail closed: the provider keeps
// the issuer and verifies with keys nobody can sign for; both are reported.
func TestJWTFailsClosed(t *testing.T) {
	snap := jwtMesh(t, []*model.RequestAuthentication{
		mkRA(t, "foo", "bad", `jwtRules: [{issuer: https://bad.example, jwks: '`+testJWKS+`', outputClaimToHeaders: [{header: "x y", claim: sub}]}]`),
		mkRA(t, "foo", "unfetched", `jwtRules: [{issuer: https://down.example, jwksUri: "https://down.example/jwks"}]`),
	})
	res, problems := ForProxy(snap, fxSidecarProxy("foo", workloadLabels, "10.0.0.1"))
	validateAll(t, res)
	cfgs := jwtConfigs(t, res)
	if len(cfgs) == 0 {
		t.Fatal("no jwt_authn filter")
	}
	for chain, cfg := range cfgs {
		for name, p := range cfg.GetProviders() {
			if p.GetLocalJwks().GetInlineString() != model.FailClosedJWKS {
				t.Errorf("%s %s (%s): keys %q, want the fail-closed set", chain, name, p.GetIssuer(), p.GetLocalJwks().GetInlineString())
			}
			if p.GetIssuer() == "https://bad.example" && len(p.GetClaimToHeaders()) > 0 {
				t.Errorf("%s: the invalid rule's provider kept its claim headers", chain)
			}
		}
	}
	if !hasAuthzProblem(problems, "spec.jwtRules[0].outputClaimToHeaders[0].header", "failing closed") {
		t.Errorf("invalid header not reported: %v", problems)
	}
	if !hasAuthzProblem(snap.Problems(), "spec.jwtRules[0].jwksUri", "failing closed") {
		t.Errorf("unfetched keys not reported: %v", snap.Problems())
	}
}

// The filter goes first on every inbound HTTP chain of sidecars and on
// gateway HTTP chains, before the RBAC filters that read its payload;
// outbound chains and TCP chains get none. Proxyless gRPC gets none and
// the policy is reported.
func TestJWTFilterIsInserted(t *testing.T) {
	allow := mkAP(t, "foo", "need-jwt", "rules: [{from: [{source: {requestPrincipals: [\"*\"]}}]}]")
	ras := []*model.RequestAuthentication{
		mkRA(t, "istio-system", "mesh", "jwtRules: [{issuer: https://issuer.example, jwksUri: https://issuer.example/jwks}]"),
	}
	snap := jwtMesh(t, ras, allow)
	for _, p := range []model.Proxy{
		fxSidecarProxy("foo", workloadLabels, "10.0.0.1"),
		fxGatewayProxy(),
		{ID: "grpc~foo", Kind: model.KindGRPC, Namespace: "foo", Labels: workloadLabels, IPs: []string{"10.0.0.1"}},
	} {
		t.Run(string(p.Kind), func(t *testing.T) {
			res, problems := ForProxy(snap, p)
			validateAll(t, res)
			withJWT := 0
			for chain, filters := range chainFilters(t, res) {
				i := slices.Index(filters, "http:"+jwtFilterName)
				inboundHTTP := slices.Contains(filters, hcmFilterName) &&
					(p.Kind == model.KindGateway || strings.HasPrefix(chain, virtualInboundName+"/"))
				switch {
				case p.Kind == model.KindGRPC || !inboundHTTP:
					if i >= 0 {
						t.Errorf("%s: unexpected jwt_authn in %v", chain, filters)
					}
				case i != 1:
					t.Errorf("%s: filters %v, want jwt_authn first", chain, filters)
				default:
					withJWT++
					if p.Kind == model.KindSidecar && filters[2] != "http:"+rbacHTTPFilterName+".allow" {
						t.Errorf("%s: filters %v, want RBAC right after jwt_authn", chain, filters)
					}
				}
			}
			grpcReported := hasAuthzProblem(problems, "spec.jwtRules", "not enforced on proxyless gRPC")
			if p.Kind == model.KindGRPC {
				if !grpcReported {
					t.Errorf("gRPC: policy not reported: %v", problems)
				}
				return
			}
			if withJWT == 0 || grpcReported {
				t.Errorf("%d chains with jwt_authn; problems %v", withJWT, problems)
			}
		})
	}
}

// A workload no RequestAuthentication selects gets no filter.
func TestJWTFilterOnlyWhereSelected(t *testing.T) {
	snap := jwtMesh(t, []*model.RequestAuthentication{mkRA(t, "bar", "other", "jwtRules: [{issuer: x, jwks: '"+testJWKS+"'}]")})
	res, problems := ForProxy(snap, fxSidecarProxy("foo", workloadLabels, "10.0.0.1"))
	if cfgs := jwtConfigs(t, res); len(cfgs) > 0 || len(problems) > 0 {
		t.Errorf("jwt_authn on %d chains, problems %v", len(cfgs), problems)
	}
}

func TestJWTGolden(t *testing.T) {
	snap := jwtMesh(t, []*model.RequestAuthentication{mkRA(t, "foo", "ra", fullRule)},
		mkAP(t, "foo", "need-jwt", "rules: [{from: [{source: {requestPrincipals: [\"https://issuer.example/*\"]}}]}]"))
	res, problems := ForProxy(snap, fxSidecarProxy("foo", workloadLabels, "10.0.0.1"))
	inbound := Resources{}
	for _, l := range res[resourcev3.ListenerType] {
		if resourceName(l) == virtualInboundName {
			inbound[resourcev3.ListenerType] = append(inbound[resourcev3.ListenerType], l)
		}
	}
	if len(inbound) == 0 {
		t.Fatal("no virtualInbound listener")
	}
	assertGoldenProxy(t, "jwt", "sidecar-inbound", inbound, problems)
}

func compactJSON(t *testing.T, m proto.Message) string {
	t.Helper()
	b, err := protojson.MarshalOptions{}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), " ", "")
}
