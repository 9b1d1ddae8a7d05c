package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImageBinaryLinksNoDeveloperTools checks that the binary the images carry (built with
// -tags nodev) links none of the local-cluster tooling: envtest's package init alone makes a
// container with a read-only root file system crash.
func TestImageBinaryLinksNoDeveloperTools(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "-tags", "nodev", "loom.dev/loom").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"sigs.k8s.io/controller-runtime/pkg/envtest", "controller-runtime/pkg/internal/testing", "loom.dev/loom/internal/devcluster", "loom.dev/loom/internal/imagebuild", "github.com/google/go-containerregistry"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("the image binary links %s", pkg)
			}
		}
	}
}
