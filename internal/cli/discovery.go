package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/internal/meshsettings"
	"loom.dev/loom/internal/tracing"
	"loom.dev/loom/internal/version"
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
	meshsettings.RegisterFlags(f, &meshConfig, &opts.DomainSuffix, &opts.RootNamespace, rootNamespace)
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

// applyMeshConfig sets the options the mesh config file at path decides, through the
// reading kubectl mesh translate shares (meshsettings).
func applyMeshConfig(opts *discovery.Options, path string) error {
	mesh, err := meshsettings.ReadFile(path)
	if err != nil {
		return err
	}
	opts.Mesh = mesh
	return nil
}

func readMeshConfig(path string) (*v1alpha1.MeshConfigSpec, error) {
	return meshsettings.DecodeFile(path)
}
