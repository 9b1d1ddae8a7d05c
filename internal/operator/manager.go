// Package operator wires the controller-runtime manager that runs Loom's reconcilers.
package operator

import (
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/controllers"
	"loom.dev/loom/pkg/apply"
	"loom.dev/loom/pkg/istiocrds"
	"loom.dev/loom/pkg/render"
	"loom.dev/loom/pkg/values"
)

// LeaderElectionID names the Lease that operator replicas compete for.
const LeaderElectionID = "operator.loom.dev"

// Options follow the flags of a kubebuilder manager.
type Options struct {
	MetricsBindAddress      string
	HealthProbeBindAddress  string
	LeaderElection          bool
	LeaderElectionNamespace string
	// ImageRegistry qualifies the Loom images of every mesh (values.WithImageRegistry).
	ImageRegistry string
	// SkipNameValidation lets tests start the manager again in the same process, as a
	// restarted operator would start in a new one.
	SkipNameValidation bool
}

// Scheme holds every type the operator reads or writes.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(operatorv1alpha1.AddToScheme(s))
	return s
}

// NewManager builds a manager with every reconciler and health check registered.
func NewManager(cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	if err := values.ValidateImageRegistry(opts.ImageRegistry); err != nil {
		return nil, fmt.Errorf("--image-registry: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  Scheme(),
		Cache:                   controllers.CacheOptions(),
		Controller:              config.Controller{SkipNameValidation: &opts.SkipNameValidation},
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsBindAddress},
		HealthProbeBindAddress:  opts.HealthProbeBindAddress,
		LeaderElection:          opts.LeaderElection,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
		// The operator exits right after stepping down, so it can release the lease at once.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	renderer, err := render.New()
	if err != nil {
		return nil, err
	}
	crds, err := istiocrds.Objects()
	if err != nil {
		return nil, err
	}
	reconciler := &controllers.MeshOperatorReconciler{
		Client:    mgr.GetClient(),
		Renderer:  renderer,
		Applier:   &apply.Applier{Client: mgr.GetClient()},
		APIReader: mgr.GetAPIReader(),
		IstioCRDs: crds,
		Recorder:  mgr.GetEventRecorder("loom-operator"),

		ImageRegistry: opts.ImageRegistry,
	}
	if err := reconciler.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up MeshOperator controller: %w", err)
	}
	caStatus := &controllers.CAStatusReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("loom-operator")}
	if err := caStatus.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up MeshOperator CA status controller: %w", err)
	}
	proxies := &controllers.ProxyStatusReconciler{Client: mgr.GetClient(), Pods: mgr.GetAPIReader()}
	if err := proxies.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up MeshOperator proxy status controller: %w", err)
	}
	webhookCA := &controllers.WebhookCABundleReconciler{Client: mgr.GetClient()}
	if err := webhookCA.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the webhook caBundle controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	return mgr, nil
}
