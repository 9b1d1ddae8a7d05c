package meshca

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/typed/certmanager/v1"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	securityapi "istio.io/api/security/v1alpha1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/ca"
)

// Options configure the mesh CA.
type Options struct {
	// Namespace is the mesh namespace: the CA's Secret and state live there.
	Namespace   string
	TrustDomain string
	Mode        v1alpha1.CAMode
	// PluggedSecret names the Secret of mode Plugged (Istio's cacerts by default).
	PluggedSecret string
	// Issuer is the cert-manager issuer of mode CertManager (kind Issuer, group
	// cert-manager.io when unset).
	Issuer cmmeta.IssuerReference
	// WorkloadCertTTL is the longest lifetime of a workload certificate; a request may ask
	// for less.
	WorkloadCertTTL time.Duration
	// DNSNames are the names in the CA's serving certificate (port 15012).
	DNSNames []string
	// ClusterID is the cluster this CA serves; a caller naming another one is refused.
	ClusterID string
	// Audience the callers' tokens must be bound to (DefaultAudience).
	Audience   string
	Clock      clock.WithTicker
	Logger     logr.Logger
	Registerer prometheus.Registerer
	// TrustBundleAcknowledged says whether every connected proxy holds the trust bundle
	// (PEM roots, as TrustBundle serves them) and, if not, what it waits for. A root
	// rotation switches signers only then; nil: never.
	TrustBundleAcknowledged func(ctx context.Context, bundle []byte) (bool, string)
	// TrustBundleChanged, if set, is called after the trust bundle changed.
	TrustBundleChanged func()
}

// reloadInterval bounds how long a change the Secret watch missed goes unnoticed, and how
// late the serving certificate and the intermediate are renewed.
const reloadInterval = time.Minute

// rotationCheckInterval is how often a running root rotation looks whether it can go on.
const rotationCheckInterval = 5 * time.Second

// Authority is the running mesh CA.
type Authority struct {
	opts   Options
	client kubernetes.Interface
	store  interface {
		load(context.Context, time.Time) (*ca.Signer, error)
	}
	rotation *rootRotation // mode SelfSigned only
	signer   atomic.Pointer[ca.Signer]
	cm       *cmMaterial // mode CertManager only
	serving  servingCert
	service  *certificateService
	roots    *rootPublisher
	trigger  chan struct{}
}

// New prepares the CA; Start loads its material and keeps it current.
func New(cfg *rest.Config, opts Options) (*Authority, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var certManager cmclient.CertmanagerV1Interface
	if opts.Mode == v1alpha1.CACertManager {
		if certManager, err = cmclient.NewForConfig(cfg); err != nil {
			return nil, err
		}
	}
	return newAuthority(client, certManager, opts)
}

func newAuthority(client kubernetes.Interface, certManager cmclient.CertmanagerV1Interface, opts Options) (*Authority, error) {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Audience == "" {
		opts.Audience = DefaultAudience
	}
	if opts.WorkloadCertTTL <= 0 {
		opts.WorkloadCertTTL = 24 * time.Hour
	}
	a := &Authority{opts: opts, client: client, trigger: make(chan struct{}, 1)}
	a.serving = servingCert{dnsNames: opts.DNSNames, clock: opts.Clock}
	var issuer workloadIssuer = &localIssuer{signer: &a.signer, clock: opts.Clock}
	switch opts.Mode {
	case v1alpha1.CASelfSigned, "":
		a.opts.Mode = v1alpha1.CASelfSigned
		acknowledged := opts.TrustBundleAcknowledged
		if acknowledged == nil {
			acknowledged = func(context.Context, []byte) (bool, string) {
				return false, "nothing reports which proxies hold the trust bundle"
			}
		}
		a.rotation = &rootRotation{maxTTL: a.opts.WorkloadCertTTL, acknowledged: acknowledged, log: opts.Logger.WithName("root-rotation")}
		a.store = &selfSignedStore{client: client, namespace: opts.Namespace, trustDomain: opts.TrustDomain, alg: ca.ECDSAP256, rotation: a.rotation}
	case v1alpha1.CAPlugged:
		name := opts.PluggedSecret
		if name == "" {
			name = v1alpha1.DefaultPluggedCASecret
		}
		a.store = &pluggedStore{client: client, namespace: opts.Namespace, name: name}
	case v1alpha1.CACertManager:
		ref, err := issuerRef(opts.Issuer)
		if err != nil {
			return nil, err
		}
		requester := &cmRequester{client: certManager.CertificateRequests(opts.Namespace), namespace: opts.Namespace,
			issuerRef: ref, clock: opts.Clock, log: opts.Logger.WithName("cert-manager")}
		a.cm = &cmMaterial{requester: requester, dnsNames: opts.DNSNames, serving: &a.serving}
		issuer = &cmIssuer{requester: requester, bundle: &a.cm.bundle}
	default:
		return nil, fmt.Errorf("CA mode %q: must be %s, %s or %s", opts.Mode, v1alpha1.CASelfSigned, v1alpha1.CAPlugged, v1alpha1.CACertManager)
	}
	a.service = &certificateService{
		issuer:    issuer,
		authn:     &tokenAuthenticator{client: client, audience: opts.Audience, trustDomain: opts.TrustDomain},
		clusterID: opts.ClusterID,
		ttl:       opts.WorkloadCertTTL,
		metrics:   newMetrics(opts.Registerer),
		log:       opts.Logger.WithName("csr"),
	}
	a.roots = &rootPublisher{client: client, log: opts.Logger.WithName("roots")}
	return a, nil
}

// Register adds Istio's CSR API to a gRPC server (the TLS one: see TLSConfig).
func (a *Authority) Register(s *grpc.Server) {
	securityapi.RegisterIstioCertificateServiceServer(s, a.service)
}

// TLSConfig serves the CA's current serving certificate; the handshake fails until the CA
// has loaded its material.
func (a *Authority) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		if c := a.serving.current(); c != nil {
			return c, nil
		}
		return nil, errors.New("the mesh CA has no serving certificate yet")
	}}
}

// Signer is the CA's current signer (nil until the first successful load).
func (a *Authority) Signer() *ca.Signer { return a.signer.Load() }

// Start loads the CA material, then reloads it when its Secret changes and every
// reloadInterval, keeping the last good material when a reload fails. It returns when ctx
// is done.
func (a *Authority) Start(ctx context.Context) error {
	if a.cm != nil {
		return a.runCertManager(ctx)
	}
	secretName := SelfSignedSecret
	if s, ok := a.store.(*pluggedStore); ok {
		secretName = s.name
	}
	go watchSecret(ctx, a.client, a.opts.Namespace, secretName, a.poke)
	go a.roots.run(ctx)
	for {
		a.reload(ctx)
		wait := reloadInterval
		if a.rotation != nil && a.rotation.current().Phase != ca.RotationIdle {
			wait = rotationCheckInterval
		}
		timer := a.opts.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-a.trigger:
			timer.Stop()
		case <-timer.C():
		}
	}
}

// TrustBundle is every root workloads should trust, PEM, one per entry (nil until the CA
// has loaded its material).
func (a *Authority) TrustBundle() []string {
	signer := a.signer.Load()
	if signer == nil {
		return nil
	}
	var out []string
	for _, r := range signer.Roots() {
		out = append(out, string(r))
	}
	return out
}

func (a *Authority) poke() {
	select {
	case a.trigger <- struct{}{}:
	default:
	}
}

func (a *Authority) reload(ctx context.Context) {
	log, now := a.opts.Logger, a.opts.Clock.Now()
	signer, err := a.store.load(ctx, now)
	problem := ""
	if err != nil {
		problem = err.Error()
		if a.signer.Load() != nil {
			problem += "; the last good CA keeps signing"
		}
		log.Error(err, "mesh CA material not loaded")
	} else {
		if old := a.signer.Load(); old == nil || !sameSigner(old, signer) {
			log.Info("mesh CA loaded", "mode", a.opts.Mode, "signingCertExpires", signer.NotAfter(), "rootExpires", signer.RootNotAfter(), "roots", len(signer.Roots()))
			a.signer.Store(signer)
			a.service.metrics.recordSigner(signer)
			if a.opts.TrustBundleChanged != nil && (old == nil || !slices.EqualFunc(old.Roots(), signer.Roots(), bytes.Equal)) {
				a.opts.TrustBundleChanged()
			}
		}
	}
	if cur := a.signer.Load(); cur != nil {
		if err := a.serving.renew(cur); err != nil {
			log.Error(err, "serving certificate not renewed")
		}
		a.roots.publish(joinPEM(cur.Roots()))
	}
	roots, chain := signerState(a.signer.Load())
	a.publishState(ctx, roots, chain, problem)
}

// publishState writes the CA state ConfigMap the operator reads.
func (a *Authority) publishState(ctx context.Context, roots, chain []byte, problem string) {
	data := stateData(string(a.opts.Mode), roots, chain, problem)
	if a.rotation != nil {
		if r := a.rotation.current(); r.Phase != ca.RotationIdle {
			data[v1alpha1.CAStateKeyRootRotationPhase] = string(r.Phase)
			data[v1alpha1.CAStateKeyRootRotationMessage] = r.Message
		}
	}
	if err := writeConfigMap(ctx, a.client, a.opts.Namespace, v1alpha1.CAStateConfigMap, managedLabels, data); err != nil && ctx.Err() == nil {
		a.opts.Logger.Error(err, "CA state not published", "configMap", v1alpha1.CAStateConfigMap)
	}
}

var managedLabels = map[string]string{"app.kubernetes.io/managed-by": "loom-discovery"}

// sameSigner: a reload that found the same material keeps the signer it had, so that the
// serving certificate is not reissued every reloadInterval.
func sameSigner(a, b *ca.Signer) bool {
	return a.SigningCert().Equal(b.SigningCert()) && slices.EqualFunc(a.Roots(), b.Roots(), bytes.Equal)
}
