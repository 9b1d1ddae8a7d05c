package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"slices"
	"time"
)

// Signer issues workload certificates. It holds the signing key pair, the
// chain from the signing certificate up to and including its root, and the
// trust bundle (every root workloads should trust; more than one while a root
// is being rotated). A Signer is immutable and safe for concurrent use.
type Signer struct {
	cert     *x509.Certificate
	key      crypto.Signer
	chain    []*x509.Certificate // signer first, root last
	chainPEM [][]byte
	roots    []*x509.Certificate
	rootsPEM [][]byte
}

// NewSigner checks that signing is a valid CA at now and that it chains to
// one of roots through chainToRoot (PEM certificates above the signer: its
// issuer first, up to the root). chainToRoot may include the signer itself
// first and the root last, or leave them out; the served chain is rebuilt
// as signer, intermediates, root, without duplicates.
func NewSigner(signing *KeyPair, chainToRoot [][]byte, roots [][]byte, now time.Time) (*Signer, error) {
	if signing == nil || signing.Cert == nil || signing.Key == nil {
		return nil, fmt.Errorf("new signer: signing key pair is missing")
	}
	chain, err := parseCertList(chainToRoot)
	if err != nil {
		return nil, fmt.Errorf("new signer: chain: %w", err)
	}
	rootCerts, err := parseCertList(roots)
	if err != nil {
		return nil, fmt.Errorf("new signer: roots: %w", err)
	}
	s, perr := buildSigner(signing.Cert, signing.Key, chain, rootCerts, now, genericNames)
	if perr != nil {
		return nil, fmt.Errorf("new signer: %w", perr)
	}
	return s, nil
}

func parseCertList(pems [][]byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for i, p := range pems {
		c, err := parseCertsPEM(p)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		certs = append(certs, c...)
	}
	return certs, nil
}

// Roots returns the trust bundle as PEM certificates.
func (s *Signer) Roots() [][]byte { return clonePEMs(s.rootsPEM) }

// Chain returns the PEM chain from the signing certificate to its root.
func (s *Signer) Chain() [][]byte { return clonePEMs(s.chainPEM) }

// SigningCert returns the certificate the Signer signs with. Do not modify it.
func (s *Signer) SigningCert() *x509.Certificate { return s.cert }

// NotAfter returns the expiry of the signing certificate.
func (s *Signer) NotAfter() time.Time { return s.cert.NotAfter }

// RootNotAfter returns the expiry of the root the signing certificate
// chains to.
func (s *Signer) RootNotAfter() time.Time { return s.chain[len(s.chain)-1].NotAfter }

func clonePEMs(in [][]byte) [][]byte {
	out := make([][]byte, len(in))
	for i, p := range in {
		out[i] = bytes.Clone(p)
	}
	return out
}

// partError is a problem with one input of buildSigner. name is the
// caller's word for that input (a Secret key for LoadPlugged).
type partError struct {
	name    string
	problem string
}

func (e *partError) Error() string { return e.name + ": " + e.problem }

// partNames are the words buildSigner uses for its inputs.
type partNames struct{ cert, key, chain, roots string }

var genericNames = partNames{cert: "signing certificate", key: "signing key", chain: "chain", roots: "roots"}

func buildSigner(cert *x509.Certificate, key crypto.Signer, chain, roots []*x509.Certificate, now time.Time, names partNames) (*Signer, *partError) {
	if problem := caProblem(cert, now); problem != "" {
		return nil, &partError{names.cert, problem}
	}
	if !samePublicKey(cert.PublicKey, key.Public()) {
		return nil, &partError{names.key, "key does not match " + names.cert}
	}
	roots, perr := checkRoots(roots, names)
	if perr != nil {
		return nil, perr
	}
	intermediates, perr := checkIntermediates(cert, chain, roots, now, names)
	if perr != nil {
		return nil, perr
	}
	path, perr := verifyPath(cert, intermediates, roots, now, names)
	if perr != nil {
		return nil, perr
	}
	s := &Signer{cert: cert, key: key, chain: path, roots: roots}
	for _, c := range path {
		s.chainPEM = append(s.chainPEM, encodeCertPEM(c))
	}
	for _, c := range roots {
		s.rootsPEM = append(s.rootsPEM, encodeCertPEM(c))
	}
	return s, nil
}

// checkRoots requires at least one root, each a CA, and drops duplicates.
// An expired extra root is kept: refusing it would stop issuance the moment
// an old root of a rotation expires. The root actually used is checked by
// verifyPath.
func checkRoots(roots []*x509.Certificate, names partNames) ([]*x509.Certificate, *partError) {
	if len(roots) == 0 {
		return nil, &partError{names.roots, "holds no certificate"}
	}
	var out []*x509.Certificate
	for i, r := range roots {
		if !r.BasicConstraintsValid || !r.IsCA {
			return nil, &partError{names.roots, fmt.Sprintf("certificate %d %s: not a CA", i+1, certName(r))}
		}
		if !containsCert(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// checkIntermediates drops the signer and the roots from chain (the chain
// may or may not list them) and duplicates, and checks what is left.
func checkIntermediates(signer *x509.Certificate, chain, roots []*x509.Certificate, now time.Time, names partNames) ([]*x509.Certificate, *partError) {
	var out []*x509.Certificate
	for i, c := range chain {
		if c.Equal(signer) || containsCert(roots, c) || containsCert(out, c) {
			continue
		}
		where := fmt.Sprintf("certificate %d %s", i+1, certName(c))
		if isSelfSigned(c) {
			return nil, &partError{names.chain, where + ": a root that " + names.roots + " does not hold"}
		}
		if problem := caProblem(c, now); problem != "" {
			return nil, &partError{names.chain, where + ": " + problem}
		}
		out = append(out, c)
	}
	return out, nil
}

// verifyPath runs x509 path validation at now and returns the verified path
// (signer first, root last) that uses every given intermediate.
func verifyPath(signer *x509.Certificate, intermediates, roots []*x509.Certificate, now time.Time, names partNames) ([]*x509.Certificate, *partError) {
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	for _, r := range roots {
		opts.Roots.AddCert(r)
	}
	for _, c := range intermediates {
		opts.Intermediates.AddCert(c)
	}
	paths, err := signer.Verify(opts)
	if err != nil {
		for i, r := range roots {
			if problem := validityProblem(r, now); problem != "" && issuedBy(append([]*x509.Certificate{signer}, intermediates...), r) {
				return nil, &partError{names.roots, fmt.Sprintf("certificate %d %s: %s", i+1, certName(r), problem)}
			}
		}
		return nil, &partError{names.chain, fmt.Sprintf("%s does not verify to %s: %v", names.cert, names.roots, err)}
	}
	for _, p := range paths {
		if slices.ContainsFunc(intermediates, func(c *x509.Certificate) bool { return !containsCert(p, c) }) {
			continue
		}
		return p, nil
	}
	for _, c := range intermediates {
		if !containsCert(paths[0], c) {
			return nil, &partError{names.chain, fmt.Sprintf("certificate %s is not on the path from %s to %s", certName(c), names.cert, names.roots)}
		}
	}
	return paths[0], nil
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	return slices.ContainsFunc(list, c.Equal)
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// issuedBy reports whether any of certs is signed by issuer.
func issuedBy(certs []*x509.Certificate, issuer *x509.Certificate) bool {
	return slices.ContainsFunc(certs, func(c *x509.Certificate) bool {
		return bytes.Equal(c.RawIssuer, issuer.RawSubject) && c.CheckSignatureFrom(issuer) == nil
	})
}
