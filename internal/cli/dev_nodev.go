//go:build nodev

package cli

import "github.com/spf13/cobra"

// newDevCommand is left out of the images' binary (built with -tags nodev): the developer
// tools link envtest, whose package init needs a writable /tmp, and go-containerregistry.
func newDevCommand() *cobra.Command { return nil }
