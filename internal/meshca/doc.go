// Package meshca runs the mesh certificate authority inside `loom discovery`: it keeps the
// CA material in its Secret (generated once, or plugged by the user) or, in mode
// CertManager, asks a cert-manager issuer for every certificate through CertificateRequests;
// it authenticates callers by their ServiceAccount token (TokenReview), serves Istio's CSR
// API (istio.v1.auth.IstioCertificateService) over TLS, and publishes the public part: the
// istio-ca-root-cert ConfigMap in every namespace and the CA's state for the operator.
// Signing itself is pkg/ca; the private keys never leave the Secret and this process.
package meshca
