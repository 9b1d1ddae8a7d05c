package cli

import (
	"github.com/spf13/cobra"

	"loom.dev/loom/pkg/redirect"
)

// runRedirect is redirect.Run; tests replace it to see the config.
var runRedirect = redirect.Run

func newIptablesCommand() *cobra.Command {
	var flags redirect.Flags
	cmd := &cobra.Command{
		Use:   "iptables",
		Short: "Install Istio's sidecar traffic redirection (istio-iptables, REDIRECT mode) with nftables in this network namespace",
		Long: `Installs the rules of Istio's istio-init container: outbound TCP to the proxy
port (15001), inbound TCP to the inbound capture port (15006), the proxy's own
uid/gid excluded, optional DNS capture to 15053. The rules are programmed over
netlink as nftables tables "ip loom" and (when the namespace has IPv6) "ip6
loom", replaced atomically on every run; --cleanup deletes exactly those
tables; --dry-run prints them as an nft -f script.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.Config()
			if err != nil {
				return err
			}
			opts := flags.Options()
			opts.Out = cmd.OutOrStdout()
			return runRedirect(cfg, opts)
		},
	}
	flags.Bind(cmd.Flags())
	return cmd
}
