// Package cli defines the loom command line.
package cli

import (
	goflag "flag"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// NewRootCommand returns the `loom` command with every subcommand.
func NewRootCommand() *cobra.Command {
	zapOpts := zap.Options{}
	root := &cobra.Command{
		Use:           "loom",
		Short:         "Loom installs, upgrades and runs a service mesh from one custom resource",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
		},
	}
	logFlags := goflag.NewFlagSet("log", goflag.ContinueOnError)
	zapOpts.BindFlags(logFlags)
	root.PersistentFlags().AddGoFlagSet(logFlags)

	root.AddCommand(newOperatorCommand(), newDiscoveryCommand(), newAgentCommand(), newVersionCommand())
	root.AddCommand(newIptablesCommand())
	if dev := newDevCommand(); dev != nil {
		root.AddCommand(dev)
	}
	return root
}
