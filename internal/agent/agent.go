// Package agent is `loom agent`, the workload side of Loom's mesh CA, like
// the certificate half of Istio's pilot-agent: it generates the workload key
// in-process, asks the CA (Istio's IstioCertificateService) to sign a CSR
// for the pod's SPIFFE identity, and publishes the result as files
// (cert-chain.pem, key.pem, root-cert.pem), to Envoy over SDS, and to
// proxyless gRPC through an xDS bootstrap whose certificate provider watches
// those files. Certificates are renewed at half their lifetime with a new
// key; failed renewals are retried with exponential backoff while the
// current certificate keeps being served.
package agent

import (
	"context"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Run publishes certificates until ctx is done (then it returns nil), or,
// with Options.Once, until the first one is published (then it returns the
// first error instead of retrying).
func Run(ctx context.Context, opts Options) error {
	a, err := newAgent(opts)
	if err != nil {
		return err
	}
	return a.run(ctx)
}

func newAgent(opts Options) (*agent, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &agent{
		opts: opts,
		id:   SPIFFEID(opts.TrustDomain, opts.Namespace, opts.ServiceAccount),
		ca: &caClient{
			address: opts.CAAddress, rootFile: opts.CARootFile, serverName: opts.CAServerName,
			tokenFile: opts.TokenFile, clusterID: opts.ClusterID, timeout: opts.RequestTimeout,
		},
		jitter:    func(d time.Duration) time.Duration { return d + rand.N(d/10+1) },
		published: make(chan struct{}),
	}, nil
}

type agent struct {
	opts Options
	id   *url.URL
	ca   *caClient
	sds  *sdsServer
	// jitter spreads the retries of many workloads after a CA outage.
	jitter func(time.Duration) time.Duration
	// bootstrapWritten, envoyBootstrapWritten and readyWritten: each is
	// written once.
	bootstrapWritten, envoyBootstrapWritten, readyWritten bool
	// published is closed once the first certificate is published.
	published chan struct{}

	// mu orders publishing a certificate and applying a trust bundle.
	mu sync.Mutex
	// current is the certificate published last, with the trust bundle served.
	current *bundle
}

func (a *agent) run(ctx context.Context) error {
	switch a.opts.Proxy {
	case ProxyEnvoy:
		return a.runEnvoy(ctx)
	case ProxyGateway:
		return a.runGateway(ctx)
	}
	return a.runCertificates(ctx)
}

// runGateway serves a gateway's Envoy, which runs in another container: its
// xDS stream proxied to the discovery server, and its certificates over SDS.
func (a *agent) runGateway(ctx context.Context) error {
	log := a.opts.Logger.WithValues("identity", a.id.String())
	xds, err := startXDSProxy(a.opts.Envoy.XDSProxySocket, a.ca, log.WithName("xds-proxy"))
	if err != nil {
		return err
	}
	defer xds.stop()
	log.Info("proxying xDS", "socket", a.opts.Envoy.XDSProxySocket, "upstream", a.opts.CAAddress)
	return a.runCertificates(ctx)
}

// runCertificates gets and renews the certificate and publishes it until
// ctx is done.
func (a *agent) runCertificates(ctx context.Context) error {
	log := a.opts.Logger.WithValues("identity", a.id.String())
	if a.opts.SDSSocket != "" {
		sds, err := startSDS(ctx, a.opts.SDSSocket)
		if err != nil {
			return err
		}
		defer sds.stop()
		a.sds = sds
		log.Info("serving SDS", "socket", a.opts.SDSSocket)
	}
	if a.opts.WatchTrustBundle && !a.opts.Once {
		w := &trustBundleWatcher{upstream: a.ca, node: trustBundleNode(&a.opts), apply: a.applyTrustBundle,
			backoff: a.opts.Backoff, clock: a.opts.Clock, log: log.WithName("trust-bundle")}
		watchCtx, stopWatching := context.WithCancel(ctx)
		defer stopWatching()
		go func() {
			// From the first certificate on, a bundle applied is one the outputs serve.
			select {
			case <-a.published:
				w.run(watchCtx)
			case <-watchCtx.Done():
			}
		}()
	}
	var current *x509.Certificate
	failures := 0
	for {
		b, err := a.renew(ctx)
		now := a.opts.Clock.Now()
		switch {
		case ctx.Err() != nil:
			if a.opts.Once {
				return ctx.Err()
			}
			return nil
		case err != nil && a.opts.Once:
			return err
		case err != nil:
			failures++
			valid := current != nil && now.Before(current.NotAfter)
			log.Error(err, "certificate request failed; retrying", "failures", failures, "servingValidCertificate", valid)
		default:
			failures = 0
			current = b.leaf
			log.Info("certificate issued", "serial", b.leaf.SerialNumber.String(),
				"notAfter", b.leaf.NotAfter.UTC().Format(time.RFC3339), "renewAt", renewalTime(b.leaf).UTC().Format(time.RFC3339))
			if a.opts.Once {
				return nil
			}
		}
		wait := nextRenewal(current, now, failures, a.opts.Backoff).Sub(now)
		if failures > 0 {
			wait = a.jitter(wait)
		}
		if wait <= 0 {
			continue
		}
		timer := a.opts.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C():
		}
	}
}

// renew gets a certificate for a new key and publishes it to every output.
// Nothing is published unless the CA's answer verifies.
func (a *agent) renew(ctx context.Context) (*bundle, error) {
	key, err := a.opts.KeyAlgorithm.generate()
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", a.opts.KeyAlgorithm, err)
	}
	csr, err := newCSR(key, a.id)
	if err != nil {
		return nil, err
	}
	chain, err := a.ca.sign(ctx, csr, a.opts.CertTTL)
	if err != nil {
		return nil, err
	}
	b, err := newBundle(chain, key, a.id, a.opts.Clock.Now())
	if err != nil {
		return nil, err
	}
	return b, a.publish(b)
}

// publish writes the files before anything that points at them: the gRPC
// bootstrap, SDS and the ready file. The CA's answer carries its trust
// bundle as of now, which replaces the one the agent had.
func (a *agent) publish(b *bundle) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.current = b
	a.ca.trust(b.rootPEM)
	if err := a.writeOutputs(b); err != nil {
		return err
	}
	if a.opts.GRPCBootstrap != "" && !a.bootstrapWritten {
		data, err := GRPCBootstrap(&a.opts)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(a.opts.GRPCBootstrap, data, 0o644); err != nil {
			return fmt.Errorf("--grpc-bootstrap: %w", err)
		}
		a.bootstrapWritten = true
	}
	if a.opts.Proxy == ProxyEnvoy && !a.envoyBootstrapWritten {
		data, err := EnvoyBootstrap(&a.opts)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(a.opts.Envoy.BootstrapPath), 0o755); err != nil {
			return fmt.Errorf("--envoy-bootstrap: %w", err)
		}
		if err := writeFileAtomic(a.opts.Envoy.BootstrapPath, data, 0o644); err != nil {
			return fmt.Errorf("--envoy-bootstrap: %w", err)
		}
		a.envoyBootstrapWritten = true
	}
	if a.opts.ReadyFile != "" && !a.readyWritten {
		if err := writeFileAtomic(a.opts.ReadyFile, []byte("ready\n"), 0o644); err != nil {
			return fmt.Errorf("--ready-file: %w", err)
		}
		a.readyWritten = true
	}
	select {
	case <-a.published:
	default:
		close(a.published)
	}
	return nil
}

// writeOutputs writes the certificate files and serves b over SDS. Caller holds a.mu.
func (a *agent) writeOutputs(b *bundle) error {
	if a.opts.OutputDir != "" {
		if err := writeBundle(a.opts.OutputDir, b); err != nil {
			return err
		}
	}
	if a.sds != nil {
		if err := a.sds.publish(b); err != nil {
			return err
		}
	}
	return nil
}

// applyTrustBundle makes roots (PEM, already checked) the trust bundle every output
// serves, with the current certificate; it returns once they do.
func (a *agent) applyTrustBundle(roots []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ca.trust(roots)
	if a.current == nil {
		return nil // the first certificate's answer brings the CA's bundle
	}
	b := *a.current
	b.rootPEM = roots
	a.current = &b
	return a.writeOutputs(&b)
}
