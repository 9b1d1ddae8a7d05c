package translate

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"slices"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"loom.dev/loom/pkg/model"
)

// Envoy is not available here: this checks, with an independent JOSE
// library, that a token signed with a test key verifies against the key
// set inlined into the generated provider, carries the provider's issuer
// and one of its audiences, and does not verify against the fail-closed
// key set.
func TestJWTTokenVerifiesAgainstInlinedKeys(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	snap := model.Build(model.Input{
		RequestAuthentications: []*model.RequestAuthentication{mkRA(t, "foo", "ra", `jwtRules: [{issuer: "https://issuer.example", jwksUri: "https://issuer.example/jwks", audiences: [api]}]`)},
		FetchedJWKS:            map[model.JWKSSource]model.FetchedJWKS{{Issuer: "https://issuer.example", URI: "https://issuer.example/jwks"}: {Keys: string(jwks)}},
	})
	cfg, problems := buildJWTAuthn(snap.JWTRulesFor("foo", workloadLabels))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	provider := cfg.GetProviders()["origins-0"]

	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signer.Sign([]byte(`{"iss":"https://issuer.example","sub":"alice","aud":"api","exp":4102444800}`))
	if err != nil {
		t.Fatal(err)
	}
	token, err := signed.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}

	verify := func(inline string) ([]byte, error) {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(inline), &set); err != nil {
			t.Fatalf("inlined key set does not parse: %v", err)
		}
		parsed, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		var lastErr error
		for _, k := range set.Keys {
			payload, err := parsed.Verify(k.Key)
			if err == nil {
				return payload, nil
			}
			lastErr = err
		}
		return nil, lastErr
	}
	payload, err := verify(provider.GetLocalJwks().GetInlineString())
	if err != nil {
		t.Fatalf("token does not verify against the inlined keys: %v", err)
	}
	var claims struct {
		Iss string `json:"iss"`
		Aud string `json:"aud"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Iss != provider.GetIssuer() || !slices.Contains(provider.GetAudiences(), claims.Aud) {
		t.Errorf("claims %+v do not match provider issuer %q audiences %v", claims, provider.GetIssuer(), provider.GetAudiences())
	}
	if _, err := verify(model.FailClosedJWKS); err == nil {
		t.Error("the token verifies against the fail-closed key set")
	}
}
