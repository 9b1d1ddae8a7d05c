// Package e2e runs the loom binary, its demo and its install manifests the way a user would,
// against a real local Kubernetes.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"testing"

	"loom.dev/loom/internal/devcluster"
)

var (
	repoRoot string
	loomBin  string
	echoBin  string
	assets   string
	// imageLoomBin is loom as the images carry it (built with -tags nodev).
	imageLoomBin string
	// kubectlMeshBin is the kubectl plugin the demo ends with.
	kubectlMeshBin string
	// standInEnvoyBin replaces Envoy in the test-only proxy image (no Envoy binary exists here).
	standInEnvoyBin string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	var err error
	if assets, err = devcluster.FindAssets(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if repoRoot, err = filepath.Abs("../.."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir, err := os.MkdirTemp("", "loom-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(binDir) }()
	loomBin, echoBin = filepath.Join(binDir, "loom"), filepath.Join(binDir, "grpcecho")
	kubectlMeshBin = filepath.Join(binDir, "kubectl-mesh")
	imageLoomBin = filepath.Join(binDir, "image", "loom")
	standInEnvoyBin = filepath.Join(binDir, "image", "envoy")
	for _, b := range []struct{ bin, pkg, tags string }{
		{loomBin, ".", ""},
		{echoBin, "./test/grpcecho", ""},
		{kubectlMeshBin, "./cmd/kubectl-mesh", ""},
		// What `make image` puts in the image: no developer tools.
		{imageLoomBin, ".", "nodev"},
		{standInEnvoyBin, "./test/standinenvoy/cmd/envoy", ""},
	} {
		bin, pkg := b.bin, b.pkg
		// Static, so that the binaries also run in the real node's images.
		build := exec.Command("go", "build", "-tags", b.tags, "-o", bin, pkg)
		build.Dir = repoRoot
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	return m.Run()
}
