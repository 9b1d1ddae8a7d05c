package agent

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
)

// Options configure `loom agent`. Error messages name the command-line flag
// and environment variable that set each field.
type Options struct {
	// Workload identity: spiffe://TrustDomain/ns/Namespace/sa/ServiceAccount.
	TrustDomain    string
	Namespace      string
	ServiceAccount string
	// KeyAlgorithm of the workload key, generated anew for every certificate.
	KeyAlgorithm KeyAlgorithm

	// CAAddress is host:port of the IstioCertificateService, reached over
	// TLS verified with the PEM roots in CARootFile and the name
	// CAServerName (default: the host of CAAddress).
	CAAddress    string
	CARootFile   string
	CAServerName string
	// TokenFile holds the bearer token sent to the CA; it is read again for
	// every request because the kubelet rotates it.
	TokenFile string
	// ClusterID is sent to the CA as the ClusterID metadata.
	ClusterID string
	// CertTTL is the validity the agent asks for.
	CertTTL time.Duration
	// RequestTimeout bounds one CreateCertificate call.
	RequestTimeout time.Duration

	// OutputDir, if set, receives cert-chain.pem, key.pem and root-cert.pem.
	OutputDir string
	// GRPCBootstrap, if set, is the path of the gRPC xDS bootstrap written
	// once the first certificate files exist in OutputDir.
	GRPCBootstrap string
	// Bootstrap describes the node in the gRPC bootstrap.
	Bootstrap BootstrapOptions
	// SDSSocket, if set, is the Unix socket path the SDS server listens on.
	SDSSocket string
	// ReadyFile, if set, is written once the first certificate is published.
	ReadyFile string
	// WatchTrustBundle subscribes to the trust bundle (Istio's PCDS) at CAAddress and
	// serves each new one at once; without it the bundle changes only with a certificate.
	WatchTrustBundle bool

	// Proxy is the data plane the agent runs beside the certificates: ""
	// (none) or ProxyEnvoy.
	Proxy string
	// Envoy configures the sidecar of Proxy ProxyEnvoy.
	Envoy EnvoyOptions

	// Once makes Run return after the first certificate is published.
	Once bool
	// Backoff paces retries after failed renewals.
	Backoff Backoff
	// Clock defaults to the real clock.
	Clock clock.Clock
	// Logger never receives the key or the token.
	Logger logr.Logger
}

// BootstrapOptions describe the proxyless gRPC node in the xDS bootstrap.
type BootstrapOptions struct {
	// XDSAddress is the server_uri of the xDS server (plaintext).
	XDSAddress string
	PodName    string
	// InstanceIPs are the pod's IPs; the first one goes into the node id.
	InstanceIPs []string
	Labels      map[string]string
	// Revision, if set, is sent as ISTIO_REVISION.
	Revision string
	// RefreshInterval is how often gRPC re-reads the certificate files.
	RefreshInterval time.Duration
}

// Defaults for the options the command line does not have to set.
const (
	DefaultCertTTL         = 24 * time.Hour
	DefaultRequestTimeout  = 30 * time.Second
	DefaultRefreshInterval = 10 * time.Second
)

func (o *Options) setDefaults() {
	if o.KeyAlgorithm == "" {
		o.KeyAlgorithm = RSA2048
	}
	if o.CertTTL == 0 {
		o.CertTTL = DefaultCertTTL
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Bootstrap.RefreshInterval == 0 {
		o.Bootstrap.RefreshInterval = DefaultRefreshInterval
	}
	if o.Backoff == (Backoff{}) {
		o.Backoff = DefaultBackoff
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Proxy == ProxyEnvoy || o.Proxy == ProxyGateway {
		o.Envoy.setDefaults()
		if o.SDSSocket == "" {
			o.SDSSocket = DefaultSDSSocket
		}
	}
	if o.CAServerName == "" {
		if host, _, err := net.SplitHostPort(o.CAAddress); err == nil {
			o.CAServerName = host
		}
	}
}

// validate reports the first missing or inconsistent option, naming its
// flag and environment variable.
func (o *Options) validate() error {
	required := []struct{ value, name string }{
		{o.TrustDomain, "trust domain: set --trust-domain or TRUST_DOMAIN"},
		{o.Namespace, "namespace: set --namespace or POD_NAMESPACE"},
		{o.ServiceAccount, "service account: set --service-account or SERVICE_ACCOUNT"},
		{o.CAAddress, "CA address: set --ca-address or CA_ADDR"},
		{o.CARootFile, "CA root file: set --ca-root-file"},
		{o.TokenFile, "token file: set --token-file"},
		{o.CAServerName, "CA server name: set --ca-server-name or a host:port --ca-address"},
	}
	for _, r := range required {
		if r.value == "" {
			return fmt.Errorf("no %s", r.name)
		}
	}
	if err := o.KeyAlgorithm.check(); err != nil {
		return err
	}
	if o.CertTTL < time.Second {
		return fmt.Errorf("--cert-ttl %s is shorter than a second", o.CertTTL)
	}
	if o.Backoff.Initial <= 0 || o.Backoff.Max < o.Backoff.Initial {
		return fmt.Errorf("backoff initial %s and max %s: want 0 < initial <= max", o.Backoff.Initial, o.Backoff.Max)
	}
	if err := o.validateProxy(); err != nil {
		return err
	}
	if o.OutputDir == "" && o.SDSSocket == "" {
		return errors.New("no output: set --output-dir and/or --sds-socket")
	}
	if o.GRPCBootstrap == "" {
		return nil
	}
	switch {
	case o.OutputDir == "":
		return errors.New("--grpc-bootstrap needs --output-dir: gRPC reads the certificates from files")
	case o.Bootstrap.XDSAddress == "":
		return errors.New("--grpc-bootstrap needs the xDS server: set --xds-address or XDS_ADDRESS")
	case o.Bootstrap.PodName == "":
		return errors.New("--grpc-bootstrap needs the pod name for the node id: set --pod-name or POD_NAME")
	case o.Bootstrap.RefreshInterval < 0:
		return fmt.Errorf("--grpc-cert-refresh %s is negative", o.Bootstrap.RefreshInterval)
	}
	return nil
}
