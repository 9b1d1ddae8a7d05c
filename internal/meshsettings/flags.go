package meshsettings

import (
	"fmt"

	"github.com/spf13/pflag"
)

// Flags are the flags of `loom discovery` that decide the model's mesh-wide settings.
type Flags struct {
	// MeshConfig is the path of the mesh config file ("" for Istio's defaults).
	MeshConfig    string
	DomainSuffix  string
	RootNamespace string
}

// RegisterFlags registers --mesh-config, --domain-suffix and --root-namespace, bound to the
// given targets. podNamespace is $POD_NAMESPACE, the default root namespace (istio-system
// when empty). kubectl mesh parses a control plane's Deployment args with the same flags.
func RegisterFlags(fs *pflag.FlagSet, meshConfig, domainSuffix, rootNamespace *string, podNamespace string) {
	if podNamespace == "" {
		podNamespace = "istio-system"
	}
	fs.StringVar(domainSuffix, "domain-suffix", "cluster.local", "Kubernetes cluster domain")
	fs.StringVar(rootNamespace, "root-namespace", podNamespace, "Namespace of mesh-wide defaults (Sidecar, DestinationRule); defaults to $POD_NAMESPACE")
	fs.StringVar(meshConfig, "mesh-config", "", "Mesh configuration file written by the operator (read at start: outboundTrafficPolicy, defaultTimeout, defaultRetries)")
}

// ParseArgs reads the mesh-deciding flags from a `loom discovery` command line (args after
// the subcommand), ignoring its other flags; podNamespace is the $POD_NAMESPACE it runs with.
func ParseArgs(args []string, podNamespace string) (Flags, error) {
	var f Flags
	fs := pflag.NewFlagSet("discovery", pflag.ContinueOnError)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	fs.SetOutput(discard{})
	RegisterFlags(fs, &f.MeshConfig, &f.DomainSuffix, &f.RootNamespace, podNamespace)
	if err := fs.Parse(args); err != nil {
		return Flags{}, fmt.Errorf("discovery args %q: %w", args, err)
	}
	return f, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
