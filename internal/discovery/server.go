package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"loom.dev/loom/internal/meshca"
	"loom.dev/loom/internal/meshsettings"
	"loom.dev/loom/internal/webhook"
	"loom.dev/loom/pkg/inject"
	"loom.dev/loom/pkg/xds"
)

// Options configure the discovery server.
type Options struct {
	// XDSAddress serves ADS over plaintext gRPC (Istio's port 15010).
	XDSAddress string
	// MonitoringAddress serves /metrics, /debug/* and /ready (Istio's port 15014).
	MonitoringAddress string
	DomainSuffix      string
	// RootNamespace holds mesh-wide defaults (Istio's istio-system).
	RootNamespace string
	// Mesh are the mesh config's settings (outboundTrafficPolicy, route defaults, mTLS mode,
	// trust domain, telemetry, extension providers), read by meshsettings.
	meshsettings.Mesh
	// Revision is this control plane's revision ("" or "default": the default one).
	Revision string
	// PodName, if set, is this control-plane pod's name: it then publishes its proxy counts
	// in RootNamespace for the operator (see v1alpha1.ProxyStatusConfigMapPrefix).
	PodName string
	Logger  logr.Logger
	// Tracer, if set, traces every config change from the watch event to the last ACK.
	Tracer trace.Tracer
	// Listening, if set, receives the bound addresses once both listen.
	Listening func(xdsAddr, monitoringAddr net.Addr)

	// CA, if set, runs the mesh CA and serves Istio's CSR API over TLS at SecureAddress
	// (Istio's port 15012).
	CA            *meshca.Options
	SecureAddress string
	// SecureListening, if set, receives the secure server's bound address.
	SecureListening func(net.Addr)

	// Injection, if set, serves the sidecar injector of this revision, and Validation the
	// validating webhook of Istio config, over HTTPS at WebhookAddress (Istio's port 15017)
	// with the CA's serving certificate (so they need CA).
	Injection      *inject.Settings
	Validation     bool
	WebhookAddress string
	// WebhookListening, if set, receives the webhook server's bound address.
	WebhookListening func(net.Addr)

	// WriteStatus writes status on the Istio objects served (see statusWriter), tuned by Status.
	WriteStatus bool
	Status      StatusOptions
}

// Run watches the cluster and serves xDS until ctx is done. Nothing is sent
// to proxies until every watch has synced, so a restarted control plane never
// pushes a partial config.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	log := opts.Logger
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p, err := newPipeline(ctx, cfg, opts, reg)
	if err != nil {
		return err
	}
	c, problems := p.cache, p.generator.problems
	var gen xds.Generator = p.generator
	var models *modelRecorder
	if opts.WriteStatus {
		models = newModelRecorder(p.generator)
		gen = models
	}
	srv := xds.NewServer(xds.Options{Generator: gen, Logger: log.WithName("xds"), Registerer: reg, Tracer: opts.Tracer})
	if err := p.watch(ctx, srv.Trigger, srv.TriggerEndpoints); err != nil {
		return err
	}
	xdsLis, err := net.Listen("tcp", opts.XDSAddress)
	if err != nil {
		return fmt.Errorf("xDS listener: %w", err)
	}
	monLis, err := net.Listen("tcp", opts.MonitoringAddress)
	if err != nil {
		_ = xdsLis.Close()
		return fmt.Errorf("monitoring listener: %w", err)
	}
	if opts.Listening != nil {
		opts.Listening(xdsLis.Addr(), monLis.Addr())
	}

	var authority *meshca.Authority
	var secure *secureServer
	if opts.CA != nil {
		caOpts := *opts.CA
		caOpts.Logger, caOpts.Registerer = log.WithName("ca"), reg
		acks := &trustBundleAcks{srv: srv, webhooks: newWebhookBundleCheck(p.clientset, opts.RootNamespace)}
		if opts.PodName != "" {
			acks.peers = newPeerBundleAcks(p.clientset, opts.RootNamespace, opts.PodName)
		}
		caOpts.TrustBundleAcknowledged = acks.acknowledged
		caOpts.TrustBundleChanged = func() {
			if p.generator.trust.set(authority.TrustBundle()) {
				p.generator.changes.noteAll() // every view serves the bundle
				srv.Trigger()
			}
		}
		if authority, err = meshca.New(cfg, caOpts); err != nil {
			_ = xdsLis.Close()
			_ = monLis.Close()
			return err
		}
		if secure, err = newSecureServer(opts.SecureAddress, authority, srv); err != nil {
			_ = xdsLis.Close()
			_ = monLis.Close()
			return err
		}
		if opts.SecureListening != nil {
			opts.SecureListening(secure.listener.Addr())
		}
	}
	var hooks *webhook.Server
	if opts.Injection != nil || opts.Validation {
		if hooks, err = newWebhookServer(opts, authority, p, reg); err != nil {
			_ = xdsLis.Close()
			_ = monLis.Close()
			if secure != nil {
				_ = secure.listener.Close()
			}
			return err
		}
	}

	grpcServer := grpc.NewServer(append(xds.GRPCServerOptions(),
		grpc.MaxConcurrentStreams(100000),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)...)
	srv.Register(grpcServer)
	ready := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/debug/problems", problems)
	mux.Handle("/debug/configz", p.istio.inputs)
	mux.Handle("/debug/", srv.DebugHandler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-ready:
			fmt.Fprintln(w, "ok")
		default:
			http.Error(w, "caches not synced", http.StatusServiceUnavailable)
		}
	})
	httpServer := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.Start(ctx) })
	g.Go(func() error { return srv.Start(ctx) })
	g.Go(func() error {
		if !c.WaitForCacheSync(ctx) {
			return ctx.Err()
		}
		log.Info("caches synced; serving config")
		// The ready push regenerates every view from a model built after this.
		p.generator.snapshots.dropEndpointNotes()
		srv.SetReady()
		close(ready)
		return nil
	})
	g.Go(func() error { return ignoreClosed(grpcServer.Serve(xdsLis)) })
	g.Go(func() error { return ignoreClosed(httpServer.Serve(monLis)) })
	if authority != nil {
		g.Go(func() error { return authority.Start(ctx) })
		g.Go(secure.serve)
	}
	if hooks != nil {
		g.Go(hooks.Serve)
	}
	if models != nil {
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return fmt.Errorf("status writer: %w", err)
		}
		statuses := newStatusWriter(p, models, srv, dyn, opts.Status, log.WithName("status"), reg)
		// Every replica reads the other pods' counts; one with a pod name publishes its own.
		statuses.peers = &peerConvergence{client: p.clientset, namespace: opts.RootNamespace, revision: opts.Revision, pod: opts.PodName, log: log.WithName("convergence")}
		leased := opts.Status.LeaseNamespace != "" && opts.Status.LeaseIdentity != ""
		statuses.standby.Store(leased)
		g.Go(func() error {
			if !c.WaitForCacheSync(ctx) {
				return ctx.Err()
			}
			return statuses.run(ctx)
		})
		g.Go(func() error {
			if !c.WaitForCacheSync(ctx) {
				return ctx.Err()
			}
			if !leased {
				return statuses.lead(ctx)
			}
			return runWhileLeading(ctx, p.clientset, opts.Status.LeaseNamespace, opts.Status.LeaseIdentity, log.WithName("status"), statuses.lead)
		})
	}
	if opts.PodName != "" {
		publisher, err := newProxyStatusPublisher(cfg, opts, srv, p.generator.trust)
		if err != nil {
			return err
		}
		g.Go(func() error { return publisher.run(ctx) })
	}
	g.Go(func() error {
		<-ctx.Done()
		grpcServer.Stop()
		if secure != nil {
			secure.stop()
		}
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if hooks != nil {
			_ = hooks.Shutdown(shutdownCtx)
		}
		return httpServer.Shutdown(shutdownCtx)
	})
	log.Info("discovery serving", "xds", xdsLis.Addr().String(), "monitoring", monLis.Addr().String())
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func ignoreClosed(err error) error {
	if errors.Is(err, grpc.ErrServerStopped) || errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
