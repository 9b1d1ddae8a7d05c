package xds

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"loom.dev/loom/pkg/ca"
)

// secretsAsGateway opens an ADS stream as a gateway in ns, over the plaintext port (token
// "") or the secure port with token, asks for the SDS Secret name, and returns the first
// Secret answered within wait (nil if none) or the stream's error.
func secretsAsGateway(t *testing.T, ns, token, name string, nodeNamespace string, wait time.Duration) (*tlsv3.Secret, error) {
	t.Helper()
	var conn *grpc.ClientConn
	var err error
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if token == "" {
		conn, err = grpc.NewClient(plane.xdsAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	} else {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(waitTrustBundle(t, ns))
		conn, err = grpc.NewClient(plane.secureAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: caServerName})))
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	meta, _ := structpb.NewStruct(map[string]any{"NAMESPACE": nodeNamespace, "LABELS": map[string]any{"istio": "ingressgateway"}})
	node := &corev3.Node{Id: "router~10.9.9.8~gw-0." + nodeNamespace + "~" + nodeNamespace + ".svc.cluster.local", Metadata: meta}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.SecretType, ResourceNames: []string{name}}); err != nil {
		return nil, err
	}
	for {
		resp, err := stream.Recv()
		if status.Code(err) == codes.DeadlineExceeded {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		for _, r := range resp.GetResources() {
			s := &tlsv3.Secret{}
			if err := r.UnmarshalTo(s); err != nil {
				t.Fatal(err)
			}
			if s.GetName() == name {
				return s, nil
			}
		}
	}
}

// TestGatewayKeysOnlyOverAuthenticatedXDS: the private key of a gateway's credential never
// travels over the plaintext xDS port; over the secure port it goes only to a gateway whose
// ServiceAccount token authenticates, who claims its own namespace, and whom RBAC lets get
// the Secret (a SubjectAccessReview, as istiod does).
func TestGatewayKeysOnlyOverAuthenticatedXDS(t *testing.T) {
	ns := newNamespace(t)
	root, err := ca.NewRoot("example.com", ca.ECDSAP256, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw-cert"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": root.CertPEM, "tls.key": root.KeyPEM}})
	apply(t, ns, `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*.example.com"]
    tls: {mode: SIMPLE, credentialName: gw-cert}
`)
	create(t, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw-cert-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"gw-cert"}, Verbs: []string{"get"}}}})
	create(t, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw-cert-reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "gw-cert-reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: "gateway"}}})
	const sds = "kubernetes://gw-cert"

	s, err := secretsAsGateway(t, ns, "", sds, ns, 3*time.Second)
	if err != nil || s.GetTlsCertificate().GetPrivateKey() != nil {
		t.Fatalf("plaintext port: got %v, %v; want no key", s, err)
	}
	waitForProblem(t, "Gateway "+ns+"/ingress: ", "not sent to proxy", "did not authenticate")

	s, err = secretsAsGateway(t, ns, serviceAccountToken(t, ns, "gateway"), sds, ns, 20*time.Second)
	if err != nil || len(s.GetTlsCertificate().GetPrivateKey().GetInlineBytes()) == 0 {
		t.Fatalf("secure port, allowed ServiceAccount: got %v, %v; want the key", s, err)
	}

	s, err = secretsAsGateway(t, ns, serviceAccountToken(t, ns, "nobody"), sds, ns, 3*time.Second)
	if err != nil || s.GetTlsCertificate().GetPrivateKey() != nil {
		t.Fatalf("secure port, ServiceAccount without RBAC: got %v, %v; want no key", s, err)
	}
	waitForProblem(t, "Gateway "+ns+"/ingress: ", "may not get Secret")

	other := newNamespaceNamed(t, ns+"-other")
	if _, err := secretsAsGateway(t, ns, serviceAccountToken(t, other, "gateway"), sds, ns, 10*time.Second); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a token of namespace %s claiming namespace %s: got %v, want PermissionDenied", other, ns, err)
	}
	if _, err := secretsAsGateway(t, ns, "not-a-token", sds, ns, 10*time.Second); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a forged token: got %v, want Unauthenticated", err)
	}
}

func newNamespaceNamed(t *testing.T, name string) string {
	t.Helper()
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	return name
}
