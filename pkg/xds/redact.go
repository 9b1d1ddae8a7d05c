package xds

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// redacted replaces private keys in debug output, as istiod's config_dump does: the
// monitoring port is not where keys are handed out.
const redacted = "[redacted]"

// withoutKeys is r's message for debug output: a Secret's private key (and the password of
// an encrypted one) replaced by redacted; other resources as they are.
func withoutKeys(r *resource) *anypb.Any {
	if r.any.GetTypeUrl() != resourcev3.SecretType {
		return r.any
	}
	m, err := r.message()
	if err != nil {
		return &anypb.Any{TypeUrl: r.any.GetTypeUrl()}
	}
	s, ok := m.(*tlsv3.Secret)
	if !ok || s.GetTlsCertificate() == nil {
		return r.any
	}
	hide := &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: redacted}}
	if s.GetTlsCertificate().GetPrivateKey() != nil {
		s.GetTlsCertificate().PrivateKey = hide
	}
	if s.GetTlsCertificate().GetPassword() != nil {
		s.GetTlsCertificate().Password = hide
	}
	a, err := anypb.New(s)
	if err != nil {
		return &anypb.Any{TypeUrl: r.any.GetTypeUrl()}
	}
	return a
}
