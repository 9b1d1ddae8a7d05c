package cli

import (
	"fmt"
	"strings"
	"time"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/spf13/pflag"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/internal/meshca"
)

// caFlags are `loom discovery`'s mesh CA settings.
type caFlags struct {
	mode          string
	pluggedSecret string
	issuerName    string
	issuerKind    string
	issuerGroup   string
	ttl           time.Duration
	secureAddress string
	dnsNames      []string
	clusterID     string
}

func (c *caFlags) register(f *pflag.FlagSet, meshNamespace string) {
	f.StringVar(&c.mode, "ca-mode", string(v1alpha1.CASelfSigned), "Mesh CA: SelfSigned (root generated once into the Secret loom-ca), Plugged (Istio's cacerts Secret layout), CertManager (certificates from a cert-manager issuer) or None (no CA, no port 15012)")
	f.StringVar(&c.pluggedSecret, "ca-plugged-secret", v1alpha1.DefaultPluggedCASecret, "Secret of the Plugged CA, in the mesh namespace")
	f.StringVar(&c.issuerName, "ca-issuer-name", "", "cert-manager issuer of mode CertManager (an Issuer in the mesh namespace, or a ClusterIssuer)")
	f.StringVar(&c.issuerKind, "ca-issuer-kind", "Issuer", "Kind of the cert-manager issuer of mode CertManager: Issuer or ClusterIssuer (or an external issuer's kind)")
	f.StringVar(&c.issuerGroup, "ca-issuer-group", "cert-manager.io", "API group of the cert-manager issuer of mode CertManager")
	f.DurationVar(&c.ttl, "workload-cert-ttl", 24*time.Hour, "Longest lifetime of a workload certificate (a request may ask for less)")
	f.StringVar(&c.secureAddress, "secure-address", ":15012", "Address of Istio's CSR API over TLS")
	f.StringSliceVar(&c.dnsNames, "ca-dns-names", []string{"istiod." + meshNamespace + ".svc", "localhost"}, "DNS names of the CA's serving certificate")
	f.StringVar(&c.clusterID, "cluster-id", "Kubernetes", "Cluster id; callers naming another one (ClusterID header) are refused")
}

// apply sets the CA options; the mesh namespace is the root namespace and the trust domain
// comes from the mesh config (applied first).
func (c *caFlags) apply(opts *discovery.Options) error {
	if strings.EqualFold(c.mode, "None") {
		return nil
	}
	mode := v1alpha1.CAMode(c.mode)
	switch mode {
	case v1alpha1.CASelfSigned, v1alpha1.CAPlugged:
	case v1alpha1.CACertManager:
		if c.issuerName == "" {
			return fmt.Errorf("--ca-mode CertManager needs --ca-issuer-name")
		}
	default:
		return fmt.Errorf("--ca-mode %q: must be SelfSigned, Plugged, CertManager or None", c.mode)
	}
	if c.ttl < time.Minute {
		return fmt.Errorf("--workload-cert-ttl %s: must be at least 1m", c.ttl)
	}
	td := opts.TrustDomain
	if td == "" {
		td = "cluster.local"
	}
	opts.SecureAddress = c.secureAddress
	opts.CA = &meshca.Options{
		Namespace:       opts.RootNamespace,
		TrustDomain:     td,
		Mode:            mode,
		PluggedSecret:   c.pluggedSecret,
		Issuer:          cmmeta.IssuerReference{Name: c.issuerName, Kind: c.issuerKind, Group: c.issuerGroup},
		WorkloadCertTTL: c.ttl,
		DNSNames:        c.dnsNames,
		ClusterID:       c.clusterID,
	}
	return nil
}
