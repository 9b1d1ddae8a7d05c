package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	"loom.dev/loom/internal/operator"
	"loom.dev/loom/internal/tracing"
	"loom.dev/loom/internal/version"
	"loom.dev/loom/pkg/values"
)

// ImageRegistryEnv gives the operator's --image-registry default.
const ImageRegistryEnv = "LOOM_IMAGE_REGISTRY"

func newOperatorCommand() *cobra.Command {
	var (
		opts       operator.Options
		kubeconfig string
		traceOpts  tracing.Options
	)
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Run the operator that reconciles MeshOperator resources",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := values.ValidateImageRegistry(opts.ImageRegistry); err != nil {
				return fmt.Errorf("--image-registry: %w", err)
			}
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return err
			}
			ctx := ctrl.SetupSignalHandler()
			provider, err := tracing.Start(ctx, traceOpts, "loom-operator")
			if err != nil {
				return err
			}
			if provider != nil {
				// The controllers trace each reconcile through the global provider.
				otel.SetTracerProvider(provider)
				defer func() { _ = provider.Shutdown(context.Background()) }()
			}
			mgr, err := operator.NewManager(cfg, opts)
			if err != nil {
				return err
			}
			ctrl.Log.WithName("setup").Info("starting operator", "version", version.Version)
			return mgr.Start(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.MetricsBindAddress, "metrics-bind-address", ":8080", "Address the metrics endpoint binds to; 0 disables it")
	f.StringVar(&opts.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "Address the health probe endpoint binds to")
	f.BoolVar(&opts.LeaderElection, "leader-elect", false, "Elect a leader so that only one operator replica is active")
	f.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease; defaults to the pod's namespace in a cluster")
	f.StringVar(&opts.ImageRegistry, "image-registry", os.Getenv(ImageRegistryEnv), "Registry (host[:port][/path]) that qualifies the Loom images the operator deploys, e.g. quay.io/loom; defaults to $"+ImageRegistryEnv+", empty keeps the unqualified names")
	f.StringVar(&kubeconfig, "kubeconfig", "", "Path to a kubeconfig; defaults to $KUBECONFIG, the in-cluster config, then ~/.kube/config")
	tracing.RegisterFlags(f, &traceOpts)
	return cmd
}

// restConfig loads the explicit kubeconfig, else follows controller-runtime's lookup order.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		return ctrl.GetConfig()
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	// As ctrl.GetConfig does: the apiserver's priority and fairness, not client-go's default
	// of 5 requests/s, limits the control plane (which would cap the CA's TokenReviews at 5
	// certificates/s).
	if cfg.QPS == 0 {
		cfg.QPS = -1
	}
	return cfg, nil
}
