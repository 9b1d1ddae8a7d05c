package translate

import (
	"testing"

	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"google.golang.org/protobuf/proto"
	security "istio.io/api/security/v1beta1"

	"loom.dev/loom/pkg/model"
)

var jwtFuzzSeeds = []string{
	`{}`,
	`{jwtRules: [{issuer: https://issuer.example, jwksUri: https://issuer.example/jwks}]}`,
	fullRule,
	`{jwtRules: [{issuer: a, jwks: "{}", fromHeaders: [{name: ""}], outputClaimToHeaders: [{header: ":bad", claim: ""}], timeout: -1s}, {issuer: a}]}`,
	`{targetRefs: [{kind: Service, name: httpbin}], jwtRules: [{jwksUri: "ftp://x"}]}`,
}

// FuzzRequestAuthentication feeds mutated RequestAuthentication specs
// through the sidecar, gateway and gRPC server translation: nothing
// panics, every resource passes validateAll, every rule that applies
// becomes a provider, and gRPC never gets a jwt_authn filter.
func FuzzRequestAuthentication(f *testing.F) {
	for _, s := range jwtFuzzSeeds {
		b, err := proto.Marshal(mkSpec(f, s, &security.RequestAuthentication{}))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, root bool) {
		spec := &security.RequestAuthentication{}
		if err := proto.Unmarshal(data, spec); err != nil {
			t.Skip()
		}
		ns := "foo"
		if root {
			ns = "istio-system"
		}
		snap := jwtMesh(t, []*model.RequestAuthentication{{Meta: mkMeta(ns, "fuzz"), Spec: spec}})
		for _, p := range []model.Proxy{
			fxSidecarProxy("foo", workloadLabels, "10.0.0.1"),
			{ID: "grpc~foo", Kind: model.KindGRPC, Namespace: "foo", Labels: workloadLabels, IPs: []string{"10.0.0.1"}},
			fxGatewayProxy(),
		} {
			res, _ := ForProxy(snap, p)
			validateAll(t, res)
			cfgs := jwtConfigs(t, res)
			if p.Kind == model.KindGRPC {
				if len(cfgs) > 0 {
					t.Error("gRPC got a jwt_authn filter")
				}
				continue
			}
			want := len(snap.JWTRulesFor(p.Namespace, p.Labels))
			for chain, cfg := range cfgs {
				if len(cfg.GetProviders()) != want {
					t.Errorf("%s: %d providers for %d rules", chain, len(cfg.GetProviders()), want)
				}
				checkProvidersReadPayload(t, cfg)
			}
		}
	})
}

func checkProvidersReadPayload(t *testing.T, cfg *jwtv3.JwtAuthentication) {
	t.Helper()
	for name, p := range cfg.GetProviders() {
		if p.GetPayloadInMetadata() != jwtPayloadKey || p.GetLocalJwks().GetInlineString() == "" {
			t.Errorf("%s: payload in %q, keys %q", name, p.GetPayloadInMetadata(), p.GetLocalJwks().GetInlineString())
		}
	}
}
