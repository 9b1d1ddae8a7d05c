package meshca

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/pkg/ca"
)

// DefaultAudience is the audience Istio's agents request for the token they present to the
// CA (Istio's default for the istio-token projected volume).
const DefaultAudience = "istio-ca"

const serviceAccountUserPrefix = "system:serviceaccount:"

// errUnauthenticated is wrapped by every refusal of a caller's credentials.
var errUnauthenticated = errors.New("unauthenticated")

// tokenAuthenticator verifies ServiceAccount tokens with the apiserver's TokenReview, bound
// to one audience, and returns the ServiceAccount as a mesh identity. The apiserver checks
// expiry, signature and, for bound tokens, that the ServiceAccount (and pod) still exist.
type tokenAuthenticator struct {
	client      kubernetes.Interface
	audience    string
	trustDomain string
}

func (a *tokenAuthenticator) authenticate(ctx context.Context, token string) (ca.Identity, error) {
	if token == "" {
		return ca.Identity{}, fmt.Errorf("%w: no bearer token in the authorization header", errUnauthenticated)
	}
	review := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{a.audience}}}
	out, err := a.client.AuthenticationV1().TokenReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return ca.Identity{}, fmt.Errorf("token review: %w", err)
	}
	return identityFromReview(out.Status, a.audience, a.trustDomain)
}

// identityFromReview decides whether a TokenReview's answer authenticates a ServiceAccount
// for audience; it is a pure function of the apiserver's answer.
func identityFromReview(st authenticationv1.TokenReviewStatus, audience, trustDomain string) (ca.Identity, error) {
	if !st.Authenticated {
		reason := st.Error
		if reason == "" {
			reason = "token not authenticated"
		}
		return ca.Identity{}, fmt.Errorf("%w: %s", errUnauthenticated, reason)
	}
	if !slices.Contains(st.Audiences, audience) {
		return ca.Identity{}, fmt.Errorf("%w: token is not for audience %q (it is for %v)", errUnauthenticated, audience, st.Audiences)
	}
	name, ok := strings.CutPrefix(st.User.Username, serviceAccountUserPrefix)
	if !ok {
		return ca.Identity{}, fmt.Errorf("%w: %q is not a ServiceAccount", errUnauthenticated, st.User.Username)
	}
	ns, sa, ok := strings.Cut(name, ":")
	if !ok || ns == "" || sa == "" || strings.Contains(sa, ":") {
		return ca.Identity{}, fmt.Errorf("%w: malformed ServiceAccount user %q", errUnauthenticated, st.User.Username)
	}
	return ca.Identity{TrustDomain: trustDomain, Namespace: ns, ServiceAccount: sa}, nil
}
