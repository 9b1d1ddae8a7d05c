// Package kubectlmesh is the kubectl-mesh plugin: a thin client of the MeshOperator API and of
// the control plane's debug endpoints, with kubectl's flags (-n, --context, --kubeconfig, -o).
package kubectlmesh

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCommand returns the kubectl-mesh root command.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	o := &Options{IO: streams, clients: restClients(flags)}
	o.namespace = func() (string, error) {
		ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
		return ns, err
	}
	cmd := rootCommand(o)
	flags.AddFlags(cmd.PersistentFlags())
	return cmd
}

// rootCommand is the command tree over o's clients.
func rootCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:           "kubectl-mesh",
		Short:         "Inspect a Loom service mesh",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetOut(o.IO.Out)
	cmd.SetErr(o.IO.ErrOut)
	cmd.AddCommand(newStatusCommand(o), newVersionCommand(o), newProxyConfigCommand(o), newTranslateCommand(o), newAnalyzeCommand(o))
	return cmd
}
