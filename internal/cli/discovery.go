package cli

import (
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"
	networking "istio.io/api/networking/v1alpha3"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/discovery"
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
			opts.Logger = ctrl.Log.WithName("discovery")
			opts.Logger.Info("starting discovery", "version", version.Version, "revision", opts.Revision)
			return discovery.Run(ctrl.SetupSignalHandler(), cfg, opts)
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
	caFlags.register(f, rootNamespace)
	inject.register(f)
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
	return nil
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
