package kubectlmesh

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"loom.dev/loom/internal/golden"
	"loom.dev/loom/internal/version"
)

func TestVersionGolden(t *testing.T) {
	objs := clusterObjects()[:4] // without the 1.0.0 Deployment: reported missing
	for name, args := range map[string][]string{"version.txt": {"version"}, "version.yaml": {"version", "-o", "yaml"}} {
		t.Run(name, func(t *testing.T) {
			out, err := run(t, nil, objs, args...)
			if err != nil {
				t.Fatal(err)
			}
			// The Go version is the toolchain's: keep the golden file independent of it.
			out = strings.ReplaceAll(out, goVersion(), "GOVERSION")
			golden.Assert(t, filepath.Join("testdata", name), []byte(out))
		})
	}
}

func TestVersionClientOnly(t *testing.T) {
	out, err := run(t, nil, nil, "version", "--client")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Client version: " + version.Version + " (commit " + version.Commit; !strings.HasPrefix(out, want) {
		t.Errorf("version --client = %q, want it to start with %q", out, want)
	}
}

func goVersion() string { return runtime.Version() }
