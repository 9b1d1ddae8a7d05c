package main

import (
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// peerIdentity is the URI SANs (SPIFFE ids) of the peer's TLS certificate, or "plaintext"
// when the connection has no TLS.
func peerIdentity(p *peer.Peer) string {
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return "plaintext"
	}
	if len(info.State.PeerCertificates) == 0 {
		return "tls-without-peer-certificate"
	}
	var ids []string
	for _, u := range info.State.PeerCertificates[0].URIs {
		ids = append(ids, u.String())
	}
	if len(ids) == 0 {
		return "certificate-without-uri"
	}
	return strings.Join(ids, ",")
}
