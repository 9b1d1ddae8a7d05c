package ca

import (
	"fmt"
	"net/url"
	"strings"
)

const spiffeScheme = "spiffe://"

// Identity is a workload's SPIFFE identity in Istio's form:
// spiffe://<TrustDomain>/ns/<Namespace>/sa/<ServiceAccount>.
type Identity struct {
	TrustDomain    string
	Namespace      string
	ServiceAccount string
}

// String returns the SPIFFE URI of the identity.
func (id Identity) String() string {
	return spiffeScheme + id.TrustDomain + "/ns/" + id.Namespace + "/sa/" + id.ServiceAccount
}

// URL returns the SPIFFE URI as a *url.URL, for certificate URI SANs.
func (id Identity) URL() *url.URL {
	return &url.URL{Scheme: "spiffe", Host: id.TrustDomain, Path: "/ns/" + id.Namespace + "/sa/" + id.ServiceAccount}
}

// Validate checks every part of the identity.
func (id Identity) Validate() error {
	if err := validateTrustDomain(id.TrustDomain); err != nil {
		return err
	}
	if err := validateLabel(id.Namespace, 63); err != nil {
		return fmt.Errorf("namespace %q: %s", id.Namespace, err)
	}
	if err := validateSubdomain(id.ServiceAccount); err != nil {
		return fmt.Errorf("service account %q: %s", id.ServiceAccount, err)
	}
	return nil
}

// ParseIdentity parses spiffe://<td>/ns/<ns>/sa/<sa> strictly: nothing may
// precede or follow those five parts, and each part must be a valid name.
func ParseIdentity(uri string) (Identity, error) {
	rest, ok := strings.CutPrefix(uri, spiffeScheme)
	if !ok {
		return Identity{}, fmt.Errorf("identity %q: scheme must be %q", uri, spiffeScheme)
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 5 || parts[1] != "ns" || parts[3] != "sa" {
		return Identity{}, fmt.Errorf("identity %q: want spiffe://<trust domain>/ns/<namespace>/sa/<service account>", uri)
	}
	id := Identity{TrustDomain: parts[0], Namespace: parts[2], ServiceAccount: parts[4]}
	if err := id.Validate(); err != nil {
		return Identity{}, fmt.Errorf("identity %q: %w", uri, err)
	}
	return id, nil
}

// validateTrustDomain applies the SPIFFE trust domain rules: lowercase
// letters, digits, '.', '-' and '_', at most 255 characters.
func validateTrustDomain(td string) error {
	if td == "" {
		return fmt.Errorf("trust domain is empty")
	}
	if len(td) > 255 {
		return fmt.Errorf("trust domain %q is longer than 255 characters", td)
	}
	for _, r := range td {
		if !isLowerAlnum(r) && r != '.' && r != '-' && r != '_' {
			return fmt.Errorf("trust domain %q: character %q is not allowed (lowercase letters, digits, '.', '-', '_')", td, r)
		}
	}
	return nil
}

// validateLabel applies the DNS-1123 label rules Kubernetes uses for
// namespace names, with the given length limit.
func validateLabel(s string, maxLen int) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if len(s) > maxLen {
		return fmt.Errorf("is longer than %d characters", maxLen)
	}
	for _, r := range s {
		if !isLowerAlnum(r) && r != '-' {
			return fmt.Errorf("character %q is not allowed (lowercase letters, digits, '-')", r)
		}
	}
	if s[0] == '-' || s[len(s)-1] == '-' {
		return fmt.Errorf("must start and end with a letter or digit")
	}
	return nil
}

// validateSubdomain applies the DNS-1123 subdomain rules Kubernetes uses for
// service account names.
func validateSubdomain(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if len(s) > 253 {
		return fmt.Errorf("is longer than 253 characters")
	}
	for label := range strings.SplitSeq(s, ".") {
		if err := validateLabel(label, 253); err != nil {
			return fmt.Errorf("dot-separated part %q %s", label, err)
		}
	}
	return nil
}

func isLowerAlnum(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')
}
