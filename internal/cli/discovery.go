package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/internal/version"
)

func newDiscoveryCommand() *cobra.Command {
	var (
		opts       discovery.Options
		kubeconfig string
		meshConfig string
	)
	cmd := &cobra.Command{
		Use:   "discovery",
		Short: "Run the control plane: watch Services and Istio config, serve xDS to proxies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if meshConfig != "" {
				mc, err := readMeshConfig(meshConfig)
				if err != nil {
					return err
				}
				opts.RegistryOnly = mc.OutboundTrafficPolicy == "REGISTRY_ONLY"
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
	f.StringVar(&meshConfig, "mesh-config", "", "Mesh configuration file written by the operator (read at start: outboundTrafficPolicy)")
	f.StringVar(&opts.Revision, "revision", "", "Control-plane revision this instance belongs to; proxies of another revision (ISTIO_REVISION) are counted and logged")
	f.StringVar(&kubeconfig, "kubeconfig", "", "Path to a kubeconfig; defaults to $KUBECONFIG, the in-cluster config, then ~/.kube/config")
	return cmd
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
