// Package ca is the signing core of Loom's mesh certificate authority.
//
// It creates root and intermediate CAs, loads an operator-supplied ("plugged")
// CA from Istio's cacerts Secret layout, validates workload CSRs against the
// caller's SPIFFE identity, and signs short-lived workload certificates with
// Istio's semantics (URI SAN spiffe://<trust domain>/ns/<ns>/sa/<sa>, chain
// returned leaf first and root last).
//
// The package holds no Kubernetes code: it depends on crypto/x509 and the
// standard library only. Callers read Secrets and authenticate callers; this
// package only decides. Every decision takes the current time as an argument,
// so behaviour at any instant can be tested. A Signer is immutable once built
// and safe for concurrent use.
package ca
