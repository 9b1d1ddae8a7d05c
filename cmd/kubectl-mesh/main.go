// Command kubectl-mesh is Loom's kubectl plugin: `kubectl mesh status|version|proxy-config|translate|analyze`.
package main

import (
	"fmt"
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"loom.dev/loom/internal/kubectlmesh"
)

func main() {
	log.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	cmd := kubectlmesh.NewCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
