package kubectlmesh

import (
	"fmt"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// Output formats every command takes through -o.
const (
	outputTable = ""
	outputWide  = "wide"
	outputJSON  = "json"
	outputYAML  = "yaml"
)

// Clients are what the commands talk to: a client for objects, and the clientset for the
// apiserver's service proxy.
type Clients struct {
	Client    client.Client
	Clientset kubernetes.Interface
}

// Options holds what every subcommand shares.
type Options struct {
	IO genericiooptions.IOStreams
	// clients builds the clients once a command runs (flags are parsed by then).
	clients func() (*Clients, error)
	// namespace is -n, or the kubeconfig context's namespace.
	namespace func() (string, error)
}

// Scheme knows the kinds kubectl-mesh reads.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, discoveryv1.AddToScheme, operatorv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // static registration of the scheme; cannot fail at run time
		}
	}
	return s
}

func restClients(flags *genericclioptions.ConfigFlags) func() (*Clients, error) {
	return func() (*Clients, error) {
		cfg, err := flags.ToRESTConfig()
		if err != nil {
			return nil, err
		}
		c, err := client.New(cfg, client.Options{Scheme: Scheme()})
		if err != nil {
			return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("clientset for %s: %w", cfg.Host, err)
		}
		return &Clients{Client: c, Clientset: cs}, nil
	}
}

// addOutputFlag registers -o with the formats a command supports.
func addOutputFlag(cmd *cobra.Command, target *string, formats string) {
	cmd.Flags().StringVarP(target, "output", "o", "", "Output format: "+formats+" (a table when unset)")
}

func checkOutput(format string, allowed ...string) error {
	for _, a := range append(allowed, outputTable) {
		if format == a {
			return nil
		}
	}
	return fmt.Errorf("-o %q: unsupported output format; use one of %v", format, allowed)
}
