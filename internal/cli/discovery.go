package cli

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"
	meshconfig "istio.io/api/mesh/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/internal/tracing"
	"loom.dev/loom/internal/version"
	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/translate"
)

func newDiscoveryCommand() *cobra.Command {
	var (
		opts       discovery.Options
		kubeconfig string
		meshConfig string
		caFlags    caFlags
		inject     injectFlags
		traceOpts  tracing.Options
	)
	cmd := &cobra.Command{
		Use:   "discovery",
		Short: "Run the control plane: watch Services and Istio config, serve xDS to proxies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if meshConfig != "" {
				if err := applyMeshConfig(&opts, meshConfig); err != nil {
					return err
				}
			}
			if err := caFlags.apply(&opts); err != nil {
				return err
			}
			if err := inject.apply(&opts, &caFlags); err != nil {
				return err
			}
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return err
			}
			if opts.Status.LeaseNamespace != "" && opts.Status.LeaseIdentity == "" {
				return fmt.Errorf("--status-lease-namespace needs this replica's name: set $POD_NAME")
			}
			opts.Logger = ctrl.Log.WithName("discovery")
			opts.Logger.Info("starting discovery", "version", version.Version, "revision", opts.Revision)
			ctx := ctrl.SetupSignalHandler()
			provider, err := tracing.Start(ctx, traceOpts, "loom-discovery")
			if err != nil {
				return err
			}
			if provider != nil {
				defer func() { _ = provider.Shutdown(context.Background()) }()
				opts.Tracer = provider.Tracer("loom.dev/loom/internal/discovery")
			}
			return discovery.Run(ctx, cfg, opts)
		},
	}
	rootNamespace := os.Getenv("POD_NAMESPACE")
	if rootNamespace == "" {
		rootNamespace = "istio-system"
	}
	f := cmd.Flags()
	f.StringVar(&opts.XDSAddress, "xds-address", ":15010", "Address the plaintext xDS (ADS) gRPC server binds to")
	f.StringVar(&opts.MonitoringAddress, "monitoring-address", ":15014", "Address of /metrics, /ready and /debug/*")
	f.StringVar(&opts.DomainSuffix, "domain-suffix", "cluster.local", "Kubernetes cluster domain")
	f.StringVar(&opts.RootNamespace, "root-namespace", rootNamespace, "Namespace of mesh-wide defaults (Sidecar, DestinationRule); defaults to $POD_NAMESPACE")
	f.StringVar(&meshConfig, "mesh-config", "", "Mesh configuration file written by the operator (read at start: outboundTrafficPolicy, defaultTimeout, defaultRetries)")
	f.StringVar(&opts.Revision, "revision", "", "Control-plane revision this instance belongs to; proxies of another revision (ISTIO_REVISION) are counted and logged")
	f.StringVar(&opts.PodName, "pod-name", os.Getenv("POD_NAME"), "This control-plane pod's name (defaults to $POD_NAME): when set, its proxy counts are published in the root namespace for the operator's status")
	f.BoolVar(&opts.WriteStatus, "write-status", true, "Write status on the Istio objects served: observedGeneration, Accepted, and Reconciled with how many proxies run the current generation")
	f.Float64Var(&opts.Status.WritesPerSecond, "status-writes-per-second", 20, "Most status writes per second sent to the apiserver (waiting writes are coalesced per object)")
	f.StringVar(&opts.Status.LeaseNamespace, "status-lease-namespace", "", "With several replicas: write status only while holding the Lease "+discovery.StatusLeaseName+" in this namespace (needs get/create/update on leases there; identity $POD_NAME)")
	opts.Status.LeaseIdentity = os.Getenv("POD_NAME")
	caFlags.register(f, rootNamespace)
	inject.register(f)
	tracing.RegisterFlags(f, &traceOpts)
	f.StringVar(&kubeconfig, "kubeconfig", "", "Path to a kubeconfig; defaults to $KUBECONFIG, the in-cluster config, then ~/.kube/config")
	return cmd
}

// applyMeshConfig sets the options the mesh config file at path decides:
// outboundTrafficPolicy, defaultTimeout and defaultRetries. Its other
// fields are not honoured by discovery yet.
func applyMeshConfig(opts *discovery.Options, path string) error {
	mc, err := readMeshConfig(path)
	if err != nil {
		return err
	}
	opts.RegistryOnly = mc.OutboundTrafficPolicy == "REGISTRY_ONLY"
	opts.MeshMTLSMode = mc.MTLSMode
	opts.TrustDomain = mc.TrustDomain
	opts.RouteDefaults = routeDefaults(mc)
	if err := translate.CheckRouteDefaults(opts.RouteDefaults); err != nil {
		return fmt.Errorf("mesh config %s: %w", path, err)
	}
	if opts.Telemetry, err = telemetry(mc); err != nil {
		return fmt.Errorf("mesh config %s: %w", path, err)
	}
	opts.ExtensionProviders = extensionProviders(mc)
	return nil
}

// extensionProviders converts the mesh config's extensionProviders to
// Istio's MeshConfig form; translation checks them (an unusable provider
// fails the CUSTOM policies naming it closed).
func extensionProviders(mc *v1alpha1.MeshConfigSpec) []*model.ExtensionProvider {
	var out []*model.ExtensionProvider
	for _, p := range mc.ExtensionProviders {
		ep := &model.ExtensionProvider{Name: p.Name}
		switch {
		case p.EnvoyExtAuthzHTTP != nil:
			h := p.EnvoyExtAuthzHTTP
			ep.Provider = &meshconfig.MeshConfig_ExtensionProvider_EnvoyExtAuthzHttp{EnvoyExtAuthzHttp: &meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationHttpProvider{
				Service: h.Service, Port: uint32(max(h.Port, 0)), Timeout: optionalDuration(h.Timeout), FailOpen: h.FailOpen,
				StatusOnError: h.StatusOnError, IncludeRequestBodyInCheck: requestBody(h.IncludeRequestBodyInCheck),
				PathPrefix: h.PathPrefix, IncludeRequestHeadersInCheck: h.IncludeRequestHeadersInCheck,
				IncludeAdditionalHeadersInCheck: h.IncludeAdditionalHeadersInCheck, HeadersToUpstreamOnAllow: h.HeadersToUpstreamOnAllow,
				HeadersToDownstreamOnDeny: h.HeadersToDownstreamOnDeny, HeadersToDownstreamOnAllow: h.HeadersToDownstreamOnAllow,
			}}
		case p.EnvoyExtAuthzGRPC != nil:
			g := p.EnvoyExtAuthzGRPC
			ep.Provider = &meshconfig.MeshConfig_ExtensionProvider_EnvoyExtAuthzGrpc{EnvoyExtAuthzGrpc: &meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationGrpcProvider{
				Service: g.Service, Port: uint32(max(g.Port, 0)), Timeout: optionalDuration(g.Timeout), FailOpen: g.FailOpen,
				StatusOnError: g.StatusOnError, IncludeRequestBodyInCheck: requestBody(g.IncludeRequestBodyInCheck),
			}}
		}
		out = append(out, ep)
	}
	return out
}

func optionalDuration(d *metav1.Duration) *durationpb.Duration {
	if d == nil {
		return nil
	}
	return durationpb.New(d.Duration)
}

func requestBody(b *v1alpha1.ExtAuthzRequestBody) *meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationRequestBody {
	if b == nil {
		return nil
	}
	return &meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationRequestBody{
		MaxRequestBytes: uint32(max(b.MaxRequestBytes, 0)), AllowPartialMessage: b.AllowPartialMessage, PackAsBytes: b.PackAsBytes,
	}
}

// telemetry converts the mesh config's accessLogging and tracing to the
// model's settings, refusing values Envoy could not use.
func telemetry(mc *v1alpha1.MeshConfigSpec) (model.Telemetry, error) {
	var out model.Telemetry
	if a := mc.AccessLogging; a.Enabled {
		if a.Path == "" {
			return out, fmt.Errorf("spec.meshConfig.accessLogging.path: required when access logging is enabled")
		}
		enc := model.AccessLogEncoding(a.Encoding)
		switch enc {
		case "":
			enc = model.AccessLogText
		case model.AccessLogText, model.AccessLogJSON:
		default:
			return out, fmt.Errorf("spec.meshConfig.accessLogging.encoding: %q is neither TEXT nor JSON", a.Encoding)
		}
		out.AccessLog = &model.AccessLog{Path: a.Path, Encoding: enc}
	}
	if tr := mc.Tracing; tr.Enabled {
		pct := 1.0
		if tr.SamplingPercentage != "" {
			v, err := strconv.ParseFloat(tr.SamplingPercentage, 64)
			if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
				return out, fmt.Errorf("spec.meshConfig.tracing.samplingPercentage: %q is not a number from 0 to 100", tr.SamplingPercentage)
			}
			pct = v
		}
		out.Tracing = &model.Tracing{SamplingPercentage: pct}
		if tr.CollectorAddress != "" { // else the snapshot reports that nothing is traced
			host, port, err := translate.ParseCollectorAddress(tr.CollectorAddress)
			if err != nil {
				return out, fmt.Errorf("spec.meshConfig.tracing.collectorAddress: %w", err)
			}
			out.Tracing.CollectorHost, out.Tracing.CollectorPort = host, port
		}
	}
	return out, nil
}

// routeDefaults converts the mesh config's defaultTimeout and
// defaultRetries to the route defaults of the model; defaultRetries means
// what Istio's defaultHttpRetryPolicy means (an empty retryOn keeps Istio's
// default conditions).
func routeDefaults(mc *v1alpha1.MeshConfigSpec) model.RouteDefaults {
	var out model.RouteDefaults
	if mc.DefaultTimeout != nil {
		out.Timeout = durationpb.New(mc.DefaultTimeout.Duration)
	}
	if r := mc.DefaultRetries; r != nil {
		out.Retries = &networking.HTTPRetry{Attempts: r.Attempts, RetryOn: r.RetryOn}
		if r.PerTryTimeout != nil {
			out.Retries.PerTryTimeout = durationpb.New(r.PerTryTimeout.Duration)
		}
	}
	return out
}

func readMeshConfig(path string) (*v1alpha1.MeshConfigSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mesh config: %w", err)
	}
	var mc v1alpha1.MeshConfigSpec
	if err := yaml.UnmarshalStrict(data, &mc); err != nil {
		return nil, fmt.Errorf("mesh config %s: %w", path, err)
	}
	return &mc, nil
}
