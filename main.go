// Command loom is the Loom service-mesh operator and control plane.
package main

import (
	"fmt"
	"os"

	"loom.dev/loom/internal/cli"
)

func main() {
	if err := cli.NewRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
